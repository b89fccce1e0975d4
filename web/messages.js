// Refusals of the API in words an owner or a reviewer understands.

const WORDS = {
  network: '网络不可用，请检查网络后重试',
  invalid_phone: '请输入正确的11位手机号',
  code_invalid: '验证码错误或已过期，请重新获取',
  address_rate_limited: '请求过于频繁，请稍后再试',
  sms_budget_exhausted: '今天的短信已发完，请明天再试',
  sms_unavailable: '短信暂时发不出去，请稍后再获取验证码',
  invalid_plate: '车牌号格式不正确，请检查后重新输入',
  no_permit: '此手机号在本车场名下没有这辆车的长租卡',
  no_lot: '没有找到这个停车场，请从公众号菜单重新进入',
  no_renewal: '没有找到这笔订单',
  refund_required: '上次续费未通过审核，请先在缴费订单中申请退款，退款后再续费',
  already_approved: '本期和下期的长租都已办理，无需续费',
  renewal_open: '已有一笔续费正在办理中，请先完成或取消',
  consent_outdated: '知情同意书已更新，请刷新页面后重新阅读并同意',
  photo_required: '请上传校园一卡通照片',
  too_large: '照片太大（最大5MB），请重新拍摄',
  unsupported_media: '照片须为JPG或PNG格式',
  already_refunded: '已申请过退款，请等待退款到账',
  refund_with_staff: '停车办公室正在处理这笔退款，请联系客服',
  invalid_transition: '订单状态已变化，请刷新后查看',
  wechat_code_required: '请从公众号菜单"车证办理"进入本页面',
  wechat_code_invalid: '微信授权已失效，请从公众号菜单重新进入',
  wechat_unavailable: '微信暂时无法连接，请稍后再试',
  payment_provider_unavailable: '暂时无法确认支付结果，请稍后刷新查看',
  already_paid: '这笔订单已经支付',
  order_closed: '订单已关闭，请重新办理',
  invalid_token: '登录已过期，请重新登录',
  unauthenticated: '请先登录',
  forbidden: '此令牌没有这项权限',
  invalid_input: '输入的内容格式不正确，请检查后重试',
  invalid_date: '日期不正确：请用年-月-日，开始日期不能晚于结束日期',
  no_problem: '没有找到这个问题',
  reason_required: '请填写拒绝原因',
  note_required: '请填写处理说明',
  problem_not_retryable: '这笔异常退款不能重试，请在商户平台处理后标记为已处理',
  problem_closed: '这个问题已经处理过了',
  projection_lagging: '数据正在更新，请稍后再试',
  busy: '系统繁忙，请稍后再试',
  overloaded: '系统繁忙，请稍后再试',
  timeout: '请求超时，请稍后再试',
  store_unavailable: '系统暂时不可用，请稍后再试',
};

// The words for an ApiError (or any error); the API's own message when we have none.
export function words(err) {
  if (err.code === 'resend_too_soon') return `验证码已发送，请${err.retryAfter || 60}秒后再获取`;
  if (err.code === 'phone_locked') {
    return '今天获取验证码的次数已用完，此手机号已锁定至今晚24点，请明天再试';
  }
  return WORDS[err.code] || err.message || '操作失败，请稍后再试';
}
