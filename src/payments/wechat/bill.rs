//! The trade bill (交易账单, `bill_type=ALL`) as WeChat Pay serves it for download: one day's
//! payments and refunds, in yuan, as text.
//!
//! The file has four parts (pay.weixin.qq.com/docs/merchant/products/bill-download/format-trade.html):
//! the detail header, the detail rows, the summary header and the summary row. Fields are
//! separated by `,`; every field of the detail and summary rows starts with a backtick so that
//! spreadsheets keep long numbers whole. Amounts are yuan with two decimals. A payment row has
//! 交易状态 `SUCCESS` (or `REVOKED`, a payment undone); a refund row has `REFUND` and names
//! its 商户退款单号. Payments are dated by when they succeeded, refunds by when WeChat
//! accepted them; the 退款状态 of a refund row is a snapshot taken when the bill was made.
//!
//! [`parse`] reads a bill exactly: an unknown layout, a field that is not what its column
//! holds, or a summary that does not add up to the rows is an error, never a guess.
//! [`render`] writes one (the sandbox's bill), so both go through the same reading.

use chrono::NaiveDateTime;
use serde::Serialize;

/// The columns of an ALL bill, in WeChat's order.
pub const COLUMNS: [&str; 27] = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
];

/// The columns of the summary.
pub const SUMMARY_COLUMNS: [&str; 7] = [
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
];

const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// One day's trade bill.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TradeBill {
    /// Its rows, in the file's order.
    pub rows: Vec<BillRow>,
}

/// A row of the bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum BillRow {
    /// Money taken (交易状态 `SUCCESS`, or `REVOKED`).
    Payment(BillPayment),
    /// Money given back (交易状态 `REFUND`).
    Refund(BillRefund),
}

/// A payment row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BillPayment {
    /// 交易时间, China Standard Time.
    pub traded_at: NaiveDateTime,
    /// 微信订单号.
    pub transaction_id: String,
    /// 商户订单号.
    pub out_trade_no: String,
    /// 交易状态: `SUCCESS` or `REVOKED`.
    pub state: String,
    /// 订单金额, in fen.
    pub fen: i64,
}

/// A refund row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BillRefund {
    /// 交易时间 (when the refund was accepted), China Standard Time.
    pub traded_at: NaiveDateTime,
    /// 微信订单号 of the refunded payment.
    pub transaction_id: String,
    /// 商户订单号 of the refunded payment.
    pub out_trade_no: String,
    /// 商户退款单号.
    pub out_refund_no: String,
    /// 微信退款单号.
    pub refund_id: String,
    /// 申请退款金额, in fen.
    pub fen: i64,
    /// 退款状态 when the bill was made: `SUCCESS`, `PROCESSING`, `CLOSED` or `ABNORMAL`.
    pub status: String,
}

/// Why a bill cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed trade bill (line {line}): {reason}")]
pub struct BillError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

fn bad(line: usize, reason: impl Into<String>) -> BillError {
    BillError {
        line,
        reason: reason.into(),
    }
}

/// Yuan with exactly two decimals (`360.00`) as fen, without floating point.
pub fn yuan_to_fen(text: &str) -> Option<i64> {
    let (whole, cents) = text.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || cents.len() != 2 || !digits(cents) || whole.len() > 15 {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let cents: i64 = cents.parse().ok()?;
    whole.checked_mul(100)?.checked_add(cents)
}

/// Fen as yuan with two decimals.
pub fn fen_to_yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
}

/// The fields of a detail or summary line: each must start with a backtick.
fn fields(line: &str, number: usize) -> Result<Vec<&str>, BillError> {
    let rest = line
        .strip_prefix('`')
        .ok_or_else(|| bad(number, "a field does not start with `"))?;
    Ok(rest.split(",`").collect())
}

/// A line's fields by column name.
struct Named<'a> {
    names: &'a [&'a str],
    values: Vec<&'a str>,
    line: usize,
}

impl<'a> Named<'a> {
    fn get(&self, column: &str) -> Result<&'a str, BillError> {
        let at = self
            .names
            .iter()
            .position(|n| *n == column)
            .ok_or_else(|| bad(1, format!("no column {column}")))?;
        Ok(self.values[at])
    }

    fn fen(&self, column: &str) -> Result<i64, BillError> {
        let text = self.get(column)?;
        yuan_to_fen(text).ok_or_else(|| {
            bad(
                self.line,
                format!("{column} is not an amount in yuan: {text:?}"),
            )
        })
    }

    fn text(&self, column: &str) -> Result<String, BillError> {
        let text = self.get(column)?;
        if text.is_empty() {
            return Err(bad(self.line, format!("{column} is empty")));
        }
        Ok(text.to_string())
    }
}

/// Totals of the rows, as the summary states them.
#[derive(Default, PartialEq, Eq, Debug)]
struct Totals {
    count: i64,
    settled_fen: i64,
    refund_fen: i64,
    order_fen: i64,
    requested_refund_fen: i64,
}

/// Reads a downloaded bill.
pub fn parse(bytes: &[u8]) -> Result<TradeBill, BillError> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad(1, "not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    while lines.last() == Some(&"") {
        lines.pop();
    }
    if lines.len() < 3 {
        return Err(bad(
            lines.len() + 1,
            "a bill has a header, a summary header and a summary",
        ));
    }
    let names: Vec<&str> = lines[0].split(',').collect();
    for column in COLUMNS {
        if names.iter().filter(|n| **n == column).count() != 1 {
            return Err(bad(
                1,
                format!("not an ALL trade bill: column {column} missing or repeated"),
            ));
        }
    }
    let summary_at = lines.len() - 2;
    let mut rows = Vec::with_capacity(summary_at - 1);
    let mut totals = Totals::default();
    for (i, line) in lines[1..summary_at].iter().enumerate() {
        let number = i + 2;
        let values = fields(line, number)?;
        if values.len() != names.len() {
            return Err(bad(
                number,
                format!(
                    "{} fields where the header has {}",
                    values.len(),
                    names.len()
                ),
            ));
        }
        let row = Named {
            names: &names,
            values,
            line: number,
        };
        totals.count += 1;
        totals.settled_fen += row.fen("应结订单金额")?;
        totals.refund_fen += row.fen("退款金额")?;
        totals.order_fen += row.fen("订单金额")?;
        totals.requested_refund_fen += row.fen("申请退款金额")?;
        rows.push(detail(&row)?);
    }
    let summary_names: Vec<&str> = lines[summary_at].split(',').collect();
    if summary_names != SUMMARY_COLUMNS {
        return Err(bad(summary_at + 1, "not the trade bill's summary header"));
    }
    let number = summary_at + 2;
    let values = fields(lines[summary_at + 1], number)?;
    if values.len() != SUMMARY_COLUMNS.len() {
        return Err(bad(number, "the summary has the wrong number of fields"));
    }
    let summary = Named {
        names: &SUMMARY_COLUMNS,
        values,
        line: number,
    };
    let count = summary.get("总交易单数")?;
    let stated = Totals {
        count: count
            .parse()
            .ok()
            .filter(|_| count.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| bad(number, "总交易单数 is not a count"))?,
        settled_fen: summary.fen("应结订单总金额")?,
        refund_fen: summary.fen("退款总金额")?,
        order_fen: summary.fen("订单总金额")?,
        requested_refund_fen: summary.fen("申请退款总金额")?,
    };
    if stated != totals {
        return Err(bad(
            number,
            format!("the summary ({stated:?}) does not add up to the rows ({totals:?})"),
        ));
    }
    Ok(TradeBill { rows })
}

fn detail(row: &Named<'_>) -> Result<BillRow, BillError> {
    let traded_at = row.get("交易时间")?;
    let traded_at = NaiveDateTime::parse_from_str(traded_at, TIME_FORMAT)
        .map_err(|_| bad(row.line, format!("交易时间 is not a time: {traded_at:?}")))?;
    let transaction_id = row.text("微信订单号")?;
    let out_trade_no = row.text("商户订单号")?;
    match row.get("交易状态")? {
        state @ ("SUCCESS" | "REVOKED") => Ok(BillRow::Payment(BillPayment {
            traded_at,
            transaction_id,
            out_trade_no,
            state: state.to_string(),
            fen: row.fen("订单金额")?,
        })),
        "REFUND" => {
            let status = row.text("退款状态")?;
            if !matches!(
                status.as_str(),
                "SUCCESS" | "PROCESSING" | "CLOSED" | "ABNORMAL"
            ) {
                return Err(bad(row.line, format!("退款状态 {status:?} is unknown")));
            }
            let out_refund_no = row.text("商户退款单号")?;
            if out_refund_no == "0" {
                return Err(bad(row.line, "a refund row without 商户退款单号"));
            }
            Ok(BillRow::Refund(BillRefund {
                traded_at,
                transaction_id,
                out_trade_no,
                out_refund_no,
                refund_id: row.text("微信退款单号")?,
                fen: row.fen("申请退款金额")?,
                status,
            }))
        }
        other => Err(bad(row.line, format!("交易状态 {other:?} is unknown"))),
    }
}

/// Who the bill is of: the AppID and merchant id its rows name.
#[derive(Debug, Clone, Copy)]
pub struct Merchant<'a> {
    /// 公众账号ID.
    pub appid: &'a str,
    /// 商户号.
    pub mchid: &'a str,
}

/// Writes a bill in WeChat's layout (`\r\n` line ends, as WeChat's own files have).
pub fn render(bill: &TradeBill, merchant: Merchant<'_>) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    let mut totals = Totals::default();
    for row in &bill.rows {
        let (
            time,
            transaction_id,
            out_trade_no,
            state,
            order,
            refund_id,
            refund_no,
            refund,
            status,
        ) = match row {
            BillRow::Payment(p) => (
                p.traded_at,
                p.transaction_id.as_str(),
                p.out_trade_no.as_str(),
                p.state.as_str(),
                p.fen,
                "0",
                "0",
                0,
                "",
            ),
            BillRow::Refund(r) => (
                r.traded_at,
                r.transaction_id.as_str(),
                r.out_trade_no.as_str(),
                "REFUND",
                0,
                r.refund_id.as_str(),
                r.out_refund_no.as_str(),
                r.fen,
                r.status.as_str(),
            ),
        };
        totals.count += 1;
        totals.order_fen += order;
        totals.requested_refund_fen += refund;
        let time = time.format(TIME_FORMAT).to_string();
        let (order, refund) = (fen_to_yuan(order), fen_to_yuan(refund));
        let channel = if refund_no == "0" { "" } else { "ORIGINAL" };
        let values = [
            time.as_str(),
            merchant.appid,
            merchant.mchid,
            "0",
            "",
            transaction_id,
            out_trade_no,
            "",
            "JSAPI",
            state,
            "OTHERS",
            "CNY",
            &order,
            "0.00",
            refund_id,
            refund_no,
            &refund,
            "0.00",
            channel,
            status,
            "",
            "",
            "0.00000",
            "0.60%",
            &order,
            &refund,
            "",
        ];
        out.push_str(&backticked(&values));
        out.push_str("\r\n");
    }
    out.push_str(&SUMMARY_COLUMNS.join(","));
    out.push_str("\r\n");
    let count = totals.count.to_string();
    let (order, refund) = (
        fen_to_yuan(totals.order_fen),
        fen_to_yuan(totals.requested_refund_fen),
    );
    out.push_str(&backticked(&[
        &count, &order, &refund, "0.00", "0.00000", &order, &refund,
    ]));
    out.push_str("\r\n");
    out
}

fn backticked(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample bill in WeChat Pay's own SDK (wechatpay-apiv3/wechatpay-go,
    /// core/client_test.go, the download of
    /// https://api.mch.weixin.qq.com/v3/billdownload/file), in the layout
    /// pay.weixin.qq.com/docs/merchant/products/bill-download/format-trade.html describes.
    const WECHAT_SAMPLE: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\n\
`2021-01-28 17:07:11,`wx81be3101902f7cb2,`1601959334,`0,`,`4200000925202101284997714292,`S20210128170702357723,`ofyak5qR_1wYsC99CsWA6R9MJazA,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.01,`0.00,`0,`0,`0.00,`0.00,`,`,`for testing,`cipher code,`0.00000,`1.00%,`0.01,`0.00,`\n\
`2021-01-28 15:35:18,`wx81be3101902f7cb2,`1601959334,`0,`,`4200000910202101282955148400,`S20210128153505214586,`ofyak5qR_1wYsC99CsWA6R9MJazA,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.01,`0.00,`0,`0,`0.00,`0.00,`,`,`for testing,`cipher code,`0.00000,`1.00%,`0.01,`0.00,`\n\
`2021-01-28 16:59:46,`wx81be3101902f7cb2,`1601959334,`0,`,`4200000926202101281412639609,`S20210128165824499930,`ofyak5qR_1wYsC99CsWA6R9MJazA,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.01,`0.00,`0,`0,`0.00,`0.00,`,`,`for testing,`cipher code,`0.00000,`1.00%,`0.01,`0.00,`\n\
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n\
`3,`0.03,`0.00,`0.00,`0.00000,`0.03,`0.00\n";

    /// Two rows of a merchant's real ALL bill, as quoted in public merchant code: a refund
    /// (交易状态 REFUND, its 商户退款单号, the amounts under 退款金额 and 申请退款金额, a
    /// negative 手续费 given back) and a payment; the summary is recomputed for these two rows.
    /// With `\r\n` line ends and the byte-order mark some downloads begin with.
    const WITH_REFUND: &str = "\u{feff}交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n\
`2024-07-09 16:47:58,`wxe1696e7c7db8e7f4,`1579507281,`0,`,`4200002166202406250324636876,`5617363390111199232,`oVgfJ5d35c6iAXrRCnfhOGF9aHT8,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50302709992024070991956632208,`5622435300878286848,`50.00,`0.00,`ORIGINAL,`SUCCESS,`2024-06-28 18:30 客户付款,`{\"statement_id\":\"5617363390111199232\"},`-0.27000,`0.54%,`0.00,`50.00,`\r\n\
`2024-07-09 10:06:33,`wxe1696e7c7db8e7f4,`1579507281,`0,`,`4200002360202407091150650780,`5622334254839656448,`oVgfJ5TrnzDOSuaxbFc33mw-5LUY,`JSAPI,`SUCCESS,`OTHERS,`CNY,`60.00,`0.00,`0,`0,`0.00,`0.00,`,`,`2024-07-10 13:50 客户付款,`{\"statement_id\":\"5622334254839656448\"},`0.32000,`0.54%,`60.00,`0.00,`\r\n\
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n\
`2,`60.00,`50.00,`0.00,`0.05000,`60.00,`50.00\r\n";

    fn time(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, TIME_FORMAT).unwrap()
    }

    #[test]
    fn wechats_sample_bill_reads_as_three_one_fen_payments() {
        let bill = parse(WECHAT_SAMPLE.as_bytes()).expect("the sample reads");
        assert_eq!(bill.rows.len(), 3);
        assert_eq!(
            bill.rows[0],
            BillRow::Payment(BillPayment {
                traded_at: time("2021-01-28 17:07:11"),
                transaction_id: "4200000925202101284997714292".into(),
                out_trade_no: "S20210128170702357723".into(),
                state: "SUCCESS".into(),
                fen: 1,
            })
        );
    }

    #[test]
    fn a_refund_row_names_its_refund_number_and_amount_in_fen() {
        let bill = parse(WITH_REFUND.as_bytes()).expect("reads");
        assert_eq!(
            bill.rows[0],
            BillRow::Refund(BillRefund {
                traded_at: time("2024-07-09 16:47:58"),
                transaction_id: "4200002166202406250324636876".into(),
                out_trade_no: "5617363390111199232".into(),
                out_refund_no: "5622435300878286848".into(),
                refund_id: "50302709992024070991956632208".into(),
                fen: 5000,
                status: "SUCCESS".into(),
            })
        );
        assert!(matches!(&bill.rows[1], BillRow::Payment(p) if p.fen == 6000));
    }

    #[test]
    fn yuan_become_fen_exactly_and_anything_else_is_refused() {
        assert_eq!(yuan_to_fen("360.00"), Some(36000));
        assert_eq!(yuan_to_fen("0.01"), Some(1));
        assert_eq!(yuan_to_fen("1299.02"), Some(129902));
        for bad in [
            "360", "360.0", "360.001", "-1.00", "+1.00", "1e3.00", ".50", "", "3 6.00",
        ] {
            assert_eq!(yuan_to_fen(bad), None, "{bad:?}");
        }
        assert_eq!(fen_to_yuan(36000), "360.00");
        assert_eq!(fen_to_yuan(5), "0.05");
    }

    #[test]
    fn a_summary_that_does_not_add_up_is_refused() {
        let wrong_total = WECHAT_SAMPLE.replace("`3,`0.03,", "`3,`0.04,");
        assert!(parse(wrong_total.as_bytes()).is_err());
        let wrong_count = WECHAT_SAMPLE.replace("`3,`0.03,", "`4,`0.03,");
        assert!(parse(wrong_count.as_bytes()).is_err());
    }

    #[test]
    fn a_row_that_is_not_in_the_bills_layout_is_refused() {
        // A field without its backtick.
        let no_tick = WECHAT_SAMPLE.replacen("`SUCCESS", "SUCCESS", 1);
        assert!(parse(no_tick.as_bytes()).is_err());
        // An amount that is not yuan with two decimals.
        let float = WECHAT_SAMPLE.replacen("`0.01,`0.00,`0,`0", "`1e-2,`0.00,`0,`0", 1);
        assert!(parse(float.as_bytes()).is_err());
        // A trade state the bill does not have.
        let state = WECHAT_SAMPLE.replacen("`SUCCESS", "`NOTPAY", 1);
        assert!(parse(state.as_bytes()).is_err());
        // Cut short: the summary is gone.
        let cut: String = WECHAT_SAMPLE.lines().take(3).collect::<Vec<_>>().join("\n");
        assert!(parse(cut.as_bytes()).is_err());
        // Another kind of bill.
        assert!(parse("记账时间,微信支付业务单号\n`x,`y\n总\n`1\n".as_bytes()).is_err());
        assert!(parse(b"\xff\xfe").is_err());
    }

    #[test]
    fn a_rendered_bill_reads_back_as_itself() {
        let bill = parse(WITH_REFUND.as_bytes()).unwrap();
        let text = render(
            &bill,
            Merchant {
                appid: "wx1",
                mchid: "1900000109",
            },
        );
        assert_eq!(parse(text.as_bytes()).unwrap(), bill);
        assert_eq!(
            parse(
                render(
                    &TradeBill::default(),
                    Merchant {
                        appid: "wx1",
                        mchid: "1"
                    }
                )
                .as_bytes()
            )
            .unwrap(),
            TradeBill::default()
        );
    }
}
