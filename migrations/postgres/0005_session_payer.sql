-- The payer's openid under the official account (WeChat OAuth, snsapi_base), kept with the
-- owner's session: JSAPI orders are made out to it.
ALTER TABLE owner_sessions ADD COLUMN payer_openid TEXT;
