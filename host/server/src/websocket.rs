//! SIP over WebSocket (RFC 7118) at `/ws`: on the HTTP port as `ws://`
//! and on the HTTPS port as `wss://`. Each upgraded connection becomes a
//! transport [`Flow`]: one frame in is one SIP message handed to the
//! stack, each message the stack sends the browser goes out as one frame.
//! Nothing here reads SIP.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use switchyard_sip::endpoint::Transport;
use switchyard_transport::{Flow, SipStack};

/// The subprotocol a SIP WebSocket client asks for (RFC 7118 §4.1).
const SUBPROTOCOL: &str = "sip";

/// The `/ws` route for flows of `transport` (`Ws` or `Wss`).
pub fn routes<S: Clone + Send + Sync + 'static>(
    stack: SipStack,
    transport: Transport,
) -> Router<S> {
    Router::new().route(
        "/ws",
        get(
            move |ws: WebSocketUpgrade, ConnectInfo(addr): ConnectInfo<SocketAddr>| {
                let stack = stack.clone();
                async move { upgrade(ws, addr, stack, transport) }
            },
        ),
    )
}

fn upgrade(
    ws: WebSocketUpgrade,
    addr: SocketAddr,
    stack: SipStack,
    transport: Transport,
) -> Response {
    let ws = ws.protocols([SUBPROTOCOL]);
    if ws.selected_protocol().is_none() {
        return (
            StatusCode::BAD_REQUEST,
            "SIP over WebSocket: ask for the \"sip\" subprotocol (Sec-WebSocket-Protocol: sip, RFC 7118)",
        )
            .into_response();
    }
    let Some(flow) = stack.open_flow(transport, addr) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many SIP connections: try again later",
        )
            .into_response();
    };
    let max = stack.max_message_size();
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| run(socket, flow))
}

/// Move frames between the socket and the flow until either side ends or
/// the flow has been idle (with no registration over it) for the limit.
async fn run(mut socket: WebSocket, mut flow: Flow) {
    let peer = flow.peer().addr;
    loop {
        let idle = flow.idle_deadline();
        if Instant::now() >= idle {
            flow.closed_idle();
            tracing::debug!(%peer, "websocket idle: closing");
            let _ = socket.send(Message::Close(None)).await;
            break;
        }
        tokio::select! {
            received = socket.recv() => match received {
                Some(Ok(Message::Text(text))) => flow.receive(text.as_bytes()),
                Some(Ok(Message::Binary(bytes))) => flow.receive(&bytes),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            out = flow.outgoing() => {
                let Some(bytes) = out else { break };
                let frame = match String::from_utf8(bytes) {
                    Ok(text) => Message::Text(text.into()),
                    // A body that is not UTF-8 goes as a binary frame
                    // (RFC 7118 §5.1 allows both).
                    Err(e) => Message::Binary(e.into_bytes().into()),
                };
                if socket.send(frame).await.is_err() {
                    break;
                }
            }
            // Look again at the top: a registration may have moved it.
            () = tokio::time::sleep_until(idle.into()) => {}
        }
    }
}
