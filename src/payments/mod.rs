//! The payment port (WeChat Pay API v3 shaped) and its sandbox provider.
