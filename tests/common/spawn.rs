//! Long-lived isolates: ports, forwarding, kill, pause, listeners, exit, leaks.

use super::wait;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use wasm_isolates::{
    exit, live_workers, should_stop, Capabilities, ExitReason, Isolate, IsolateError, IsolateState,
    Priority, ReceivePort, SendPort, TransferBuffer,
};

fn can_spawn() -> bool {
    Capabilities::detect().can_spawn()
}

/// Receives the next message, failing (not hanging) after a few seconds.
async fn next<T: serde::de::DeserializeOwned>(port: &mut ReceivePort<T>) -> Option<T> {
    use futures_util::future::{select, Either};
    let timeout = Box::pin(wait(5000));
    match select(port.next(), timeout).await {
        Either::Left((item, _)) => item.map(|r| r.expect("message decodes")),
        Either::Right(_) => panic!("no message within 5 s"),
    }
}

fn idle(_: ()) {}

/// Without cross-origin isolation `spawn` is refused with both headers named.
pub async fn spawn_requires_cross_origin_isolation() {
    match Isolate::spawn(idle, ()).await {
        Ok(iso) if can_spawn() => iso.kill(Priority::Immediate),
        Err(IsolateError::Unsupported {
            capability,
            message,
        }) if !can_spawn() => {
            assert_eq!(capability, "SharedArrayBuffer");
            assert!(
                message.contains("Cross-Origin-Opener-Policy: same-origin"),
                "{message}"
            );
            assert!(
                message.contains("Cross-Origin-Embedder-Policy: require-corp"),
                "{message}"
            );
        }
        Ok(_) => panic!("spawn worked without SharedArrayBuffer"),
        Err(e) => panic!("unexpected {e:?}"),
    }
}

#[derive(Serialize, Deserialize)]
pub enum ToServer {
    Ping { n: u32, reply: SendPort<u32> },
    Stop,
}

#[derive(Serialize, Deserialize)]
pub enum FromServer {
    Hello(SendPort<ToServer>),
    Bye,
}

/// An isolate serving pings on its own port; it sends that port's SendPort back first.
async fn ping_server(parent: SendPort<FromServer>) {
    let Ok(mut inbox) = ReceivePort::<ToServer>::new() else {
        return;
    };
    let _ = parent.send(FromServer::Hello(inbox.send_port()));
    while let Some(Ok(msg)) = inbox.next().await {
        match msg {
            ToServer::Ping { n, reply } => {
                let _ = reply.send(n * 2);
            }
            ToServer::Stop => break,
        }
    }
    let _ = parent.send(FromServer::Bye);
}

pub async fn ports_ping_pong() {
    if !can_spawn() {
        return;
    }
    let mut from_server = ReceivePort::<FromServer>::new().unwrap();
    let iso = Isolate::spawn_async(ping_server, from_server.send_port())
        .await
        .unwrap();
    let Some(FromServer::Hello(server)) = next(&mut from_server).await else {
        panic!("expected Hello");
    };
    let mut answers = ReceivePort::<u32>::new().unwrap();
    for n in 1..=5 {
        server
            .send(ToServer::Ping {
                n,
                reply: answers.send_port(),
            })
            .unwrap();
        assert_eq!(next(&mut answers).await, Some(n * 2));
    }
    server.send(ToServer::Stop).unwrap();
    assert!(matches!(
        next(&mut from_server).await,
        Some(FromServer::Bye)
    ));
    assert_eq!(iso.exited().await, ExitReason::Returned);
    assert_eq!(iso.state(), IsolateState::Dead);
    // The isolate is gone: the port linked to it ends instead of waiting forever.
    assert!(next(&mut from_server).await.is_none());
}

/// A client isolate given the server's SendPort talks to the server directly.
async fn client(args: (SendPort<ToServer>, SendPort<u32>)) {
    let (server, parent) = args;
    let Ok(mut answers) = ReceivePort::<u32>::new() else {
        return;
    };
    let _ = server.send(ToServer::Ping {
        n: 21,
        reply: answers.send_port(),
    });
    if let Some(Ok(answer)) = answers.next().await {
        let _ = parent.send(answer);
    }
}

pub async fn send_port_forwarded_to_a_second_isolate() {
    if !can_spawn() {
        return;
    }
    let mut from_server = ReceivePort::<FromServer>::new().unwrap();
    let server_iso = Isolate::spawn_async(ping_server, from_server.send_port())
        .await
        .unwrap();
    let Some(FromServer::Hello(server)) = next(&mut from_server).await else {
        panic!("expected Hello");
    };
    let mut results = ReceivePort::<u32>::new().unwrap();
    let client_iso = Isolate::spawn_async(client, (server.clone(), results.send_port()))
        .await
        .unwrap();
    assert_eq!(next(&mut results).await, Some(42));
    assert_eq!(client_iso.exited().await, ExitReason::Returned);
    // `server` moved to the client: using it here is refused, not silently dropped.
    assert_eq!(server.send(ToServer::Stop), Err(IsolateError::Closed));
    server_iso.kill(Priority::Immediate);
    assert_eq!(server_iso.exited().await, ExitReason::Killed);
}

fn busy_until_stopped(report: SendPort<String>) {
    let start = js_sys::Date::now();
    while js_sys::Date::now() - start < 30_000.0 {
        if should_stop() {
            let _ = report.send("stopped cooperatively".into());
            return;
        }
    }
}

fn busy_forever(_: ()) {
    let start = js_sys::Date::now();
    while js_sys::Date::now() - start < 30_000.0 {}
}

pub async fn kill_during_a_busy_loop() {
    if !can_spawn() {
        return;
    }
    let mut report = ReceivePort::<String>::new().unwrap();
    let iso = Isolate::spawn(busy_until_stopped, report.send_port())
        .await
        .unwrap();
    wait(50).await;
    assert_eq!(iso.state(), IsolateState::Running);
    iso.kill(Priority::BeforeNextEvent);
    assert_eq!(
        next(&mut report).await.as_deref(),
        Some("stopped cooperatively")
    );
    assert_eq!(iso.exited().await, ExitReason::Killed);

    let iso = Isolate::spawn(busy_forever, ()).await.unwrap();
    wait(50).await;
    iso.kill(Priority::Immediate);
    assert_eq!(iso.exited().await, ExitReason::Killed);
    assert_eq!(iso.state(), IsolateState::Dead);
}

async fn echo_numbers(parent: SendPort<SendPort<u32>>) {
    let Ok(mut inbox) = ReceivePort::<u32>::new() else {
        return;
    };
    if parent.send(inbox.send_port()).is_err() {
        return;
    }
    while let Some(Ok(n)) = inbox.next().await {
        wasm_isolates::report_progress(n);
    }
}

pub async fn pause_holds_delivery_until_resume() {
    if !can_spawn() {
        return;
    }
    let mut hello = ReceivePort::<SendPort<u32>>::new().unwrap();
    let iso = Isolate::spawn_async(echo_numbers, hello.send_port())
        .await
        .unwrap();
    let inbox = next(&mut hello).await.unwrap();
    inbox.send(1).unwrap();
    wait(100).await;
    assert_eq!(iso.progress(), 1);
    iso.pause();
    assert_eq!(iso.state(), IsolateState::Paused);
    inbox.send(2).unwrap();
    inbox.send(3).unwrap();
    wait(150).await;
    assert_eq!(iso.progress(), 1, "paused: messages are held");
    iso.resume();
    wait(150).await;
    assert_eq!(
        iso.progress(),
        3,
        "resumed: held messages delivered in order"
    );
    iso.kill(Priority::Immediate);
}

fn panics(_: ()) {
    panic!("isolate failed on purpose");
}

pub async fn exit_and_error_listeners_fire_once() {
    if !can_spawn() {
        return;
    }
    let errors = ReceivePort::<IsolateError>::new().unwrap();
    let mut exits = ReceivePort::<String>::new().unwrap();
    let iso = Isolate::builder()
        .debug_name("fails")
        .spawn(panics, ())
        .await;
    // The panic may already have ended it; listeners added late still fire (exit) once.
    let iso = iso.unwrap();
    assert_eq!(iso.debug_name(), "fails");
    iso.add_error_listener(&errors.send_port());
    iso.add_on_exit_listener(&exits.send_port(), "gone".to_string());
    let reason = iso.exited().await;
    match &reason {
        ExitReason::Failed(IsolateError::Panicked { message, location }) => {
            assert_eq!(message, "isolate failed on purpose");
            assert!(location.as_deref().unwrap_or("").contains("spawn.rs"));
        }
        other => panic!("expected a panic exit, got {other:?}"),
    }
    assert_eq!(next(&mut exits).await.as_deref(), Some("gone"));
    iso.kill(Priority::Immediate); // no second exit
    wait(100).await;
    exits.close();
    assert!(
        next(&mut exits).await.is_none(),
        "on_exit fired exactly once"
    );
    errors.close();
    let reported: Vec<_> = errors.collect().await;
    assert!(reported.len() <= 1, "error reported at most once");
}

fn exits_with_buffer(port: SendPort<TransferBuffer<u8>>) {
    let _ = exit(&port, TransferBuffer::from_slice(&[7u8; 1024]));
}

pub async fn exit_sends_a_final_message() {
    if !can_spawn() {
        return;
    }
    let mut port = ReceivePort::<TransferBuffer<u8>>::new().unwrap();
    let iso = Isolate::spawn(exits_with_buffer, port.send_port())
        .await
        .unwrap();
    let buf = next(&mut port).await.unwrap();
    assert_eq!(buf.to_vec(), vec![7u8; 1024]);
    assert_eq!(iso.exited().await, ExitReason::Returned);
}

async fn wait_forever(_: ()) {
    let _ = wasm_bindgen_futures::JsFuture::from(super::never()).await;
}

/// Spawning and dropping 200 isolates leaves no worker behind.
pub async fn spawn_and_drop_200_isolates() {
    if !can_spawn() {
        return;
    }
    let before = live_workers();
    for _ in 0..10 {
        let batch: Vec<_> = (0..20)
            .map(|_| Isolate::spawn_async(wait_forever, ()))
            .collect();
        for iso in futures_util::future::join_all(batch).await {
            drop(iso.unwrap());
        }
    }
    assert_eq!(live_workers(), before);
}

#[derive(Serialize, Deserialize)]
pub struct Stamped {
    index: u32,
    sent_at: f64,
}

async fn produce_stamped(n: u32, mut sink: wasm_isolates::StreamSink<Stamped>) {
    for index in 0..n {
        if sink.ready().await.is_err() {
            return;
        }
        let item = Stamped {
            index,
            sent_at: js_sys::Date::now(),
        };
        if sink.send(item).await.is_err() {
            return;
        }
    }
}

/// The producer never runs more than `window` items ahead of a slow consumer: item k is sent
/// only after item k - window was consumed.
pub async fn stream_has_backpressure() {
    let window = 3;
    let mut items = wasm_isolates::stream_with_window(produce_stamped, 30, window);
    // When the consumer asked for item k: it cannot have taken item k (and freed a place for
    // item k + window) before that.
    let mut asked_at: Vec<f64> = Vec::new();
    loop {
        asked_at.push(js_sys::Date::now());
        let Some(item) = items.next().await else {
            asked_at.pop();
            break;
        };
        let item = item.unwrap();
        assert_eq!(item.index as usize + 1, asked_at.len(), "in order");
        if item.index >= window {
            let freed_after = asked_at[(item.index - window) as usize];
            assert!(
                item.sent_at >= freed_after,
                "item {} sent at {} before item {} was asked for at {freed_after}",
                item.index,
                item.sent_at,
                item.index - window
            );
        }
        wait(15).await; // a slow consumer
    }
    assert_eq!(asked_at.len(), 30);
}

async fn produce_then_panic(_: (), mut sink: wasm_isolates::StreamSink<u32>) {
    let _ = sink.send(1).await;
    let _ = sink.send(2).await;
    panic!("producer failed");
}

pub async fn stream_reports_a_failing_producer() {
    let mut items = wasm_isolates::stream(produce_then_panic, ());
    assert_eq!(items.next().await.unwrap().unwrap(), 1);
    assert_eq!(items.next().await.unwrap().unwrap(), 2);
    match items.next().await {
        Some(Err(IsolateError::Panicked { message, .. })) => assert_eq!(message, "producer failed"),
        other => panic!("expected the panic, got {other:?}"),
    }
    assert!(items.next().await.is_none());
}

/// Regression: the stop message of `kill(BeforeNextEvent)` reached an idle isolate's dispatcher,
/// which answered it as a malformed call, so the isolate "failed" instead of being killed.
pub async fn kill_before_next_event_stops_an_idle_isolate() {
    if !can_spawn() {
        return;
    }
    let iso = Isolate::spawn_async(wait_forever, ()).await.unwrap();
    iso.kill(Priority::BeforeNextEvent);
    assert_eq!(iso.exited().await, ExitReason::Killed);
}
