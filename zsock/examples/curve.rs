//! The README's CURVE example: a REP server with a CURVE key pair and an authenticator
//! admitting one client key, and that client.

use zsock::{
    curve_keypair, Context, Flags, SocketOption, SocketType, ZapReply, ZapRequest, ZapStatus,
};

fn main() -> zsock::Result<()> {
    let (server_keys, client_keys) = (curve_keypair(), curve_keypair());
    let ctx = Context::new();
    let known = zsock::z85_decode(&client_keys.public).unwrap();
    ctx.set_authenticator(move |req: &ZapRequest| {
        if req.credentials.first().is_some_and(|key| *key == known) {
            ZapReply::allow("client-1") // the peer's messages carry User-Id "client-1"
        } else {
            ZapReply::refuse(ZapStatus::Denied, "unknown key")
        }
    });
    let mut rep = ctx.socket(SocketType::Rep)?;
    rep.set(SocketOption::CurveServer(true))?;
    rep.set(SocketOption::CurveSecretKey((&server_keys.secret).into()))?;
    let endpoint = rep.bind("tcp://127.0.0.1:*")?;
    let mut req = ctx.socket(SocketType::Req)?;
    req.set(SocketOption::CurveServerKey(
        server_keys.public.clone().into(),
    ))?;
    req.set(SocketOption::CurveSecretKey((&client_keys.secret).into()))?;
    req.connect(&endpoint)?;
    req.send("sealed", Flags::NONE)?;
    assert_eq!(rep.recv(Flags::NONE)?, "sealed");
    assert_eq!(
        rep.peer().unwrap().gets("User-Id").as_deref(),
        Some("client-1")
    );
    Ok(())
}
