//! Long-lived isolates: ports, forwarding, kill, pause, listeners, exit, leaks.

use super::{eventually, wait};
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
            // On an isolated page without SharedArrayBuffer (WebKitGTK) the headers are already
            // set: the message must say that the browser lacks it, not ask for the headers.
            if Capabilities::detect().cross_origin_isolated {
                assert!(message.contains("does not expose it"), "{message}");
                assert!(!message.contains("serve the page with"), "{message}");
            } else {
                assert!(message.contains("serve the page with"), "{message}");
            }
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
    // `server` came from the server isolate; copies of it go to two clients at once (each gets
    // a channel of its own, announced to the server on this one), and it keeps working here.
    let mut results = ReceivePort::<u32>::new().unwrap();
    let first = Isolate::spawn_async(client, (server.clone(), results.send_port()));
    let second = Isolate::spawn_async(client, (server.clone(), results.send_port()));
    let (first, second) = futures_util::future::join(first, second).await;
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(next(&mut results).await, Some(42));
    assert_eq!(next(&mut results).await, Some(42));
    assert_eq!(first.exited().await, ExitReason::Returned);
    assert_eq!(second.exited().await, ExitReason::Returned);
    let mut answers = ReceivePort::<u32>::new().unwrap();
    server
        .send(ToServer::Ping {
            n: 8,
            reply: answers.send_port(),
        })
        .unwrap();
    assert_eq!(
        next(&mut answers).await,
        Some(16),
        "the original still works"
    );
    server_iso.kill(Priority::Immediate);
    assert_eq!(server_iso.exited().await, ExitReason::Killed);
}

/// Dart's `SendPort` is freely shared: sending one copy of a local port to an isolate leaves
/// every other copy working, and the isolate's copy reaches the same `ReceivePort`.
pub async fn send_port_copies_all_keep_working() {
    if !can_spawn() {
        return;
    }
    let mut port = ReceivePort::<u32>::new().unwrap();
    let mine = port.send_port();
    let also_mine = mine.clone();
    let iso = Isolate::spawn(send_seven, mine.clone()).await.unwrap();
    assert_eq!(next(&mut port).await, Some(7));
    mine.send(1).unwrap();
    also_mine.send(2).unwrap();
    assert_eq!(next(&mut port).await, Some(1));
    assert_eq!(next(&mut port).await, Some(2));
    // The same copy sent a second time, to a second isolate.
    let again = Isolate::spawn(send_seven, mine.clone()).await.unwrap();
    assert_eq!(next(&mut port).await, Some(7));
    assert_eq!(iso.exited().await, ExitReason::Returned);
    assert_eq!(again.exited().await, ExitReason::Returned);
}

fn send_seven(port: SendPort<u32>) {
    let _ = port.send(7);
}

fn busy_until_stopped(report: SendPort<String>) {
    let _ = report.send("busy".into());
    let start = js_sys::Date::now();
    while js_sys::Date::now() - start < 30_000.0 {
        if should_stop() {
            let _ = report.send("stopped cooperatively".into());
            return;
        }
    }
}

fn busy_forever(_: ()) {
    wasm_isolates::report_progress(1);
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
    assert_eq!(next(&mut report).await.as_deref(), Some("busy"));
    assert_eq!(iso.state(), IsolateState::Running);
    iso.kill(Priority::BeforeNextEvent);
    assert_eq!(
        next(&mut report).await.as_deref(),
        Some("stopped cooperatively")
    );
    assert_eq!(iso.exited().await, ExitReason::Killed);

    let iso = Isolate::spawn(busy_forever, ()).await.unwrap();
    eventually("the busy loop started", || iso.progress() == 1).await;
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
    eventually("message 1 delivered", || iso.progress() == 1).await;
    iso.pause();
    assert_eq!(iso.state(), IsolateState::Paused);
    inbox.send(2).unwrap();
    inbox.send(3).unwrap();
    // That nothing is delivered can only be seen by waiting: 300 ms is thirty of the paused
    // isolate's 10 ms checks, and an unpaused isolate takes well under 1 ms per message.
    wait(300).await;
    assert_eq!(iso.progress(), 1, "paused: messages are held");
    iso.resume();
    eventually("held messages delivered", || iso.progress() == 3).await;
    iso.kill(Priority::Immediate);
}

/// Sends its inbox to the parent, then panics when told to (so that listeners are in place).
async fn panics_when_told(parent: SendPort<SendPort<()>>) {
    let Ok(mut inbox) = ReceivePort::<()>::new() else {
        return;
    };
    let _ = parent.send(inbox.send_port());
    let _ = inbox.next().await;
    panic!("isolate failed on purpose");
}

pub async fn exit_and_error_listeners_fire_once() {
    if !can_spawn() {
        return;
    }
    let errors = ReceivePort::<IsolateError>::new().unwrap();
    let mut exits = ReceivePort::<String>::new().unwrap();
    let mut hello = ReceivePort::<SendPort<()>>::new().unwrap();
    let iso = Isolate::builder()
        .debug_name("fails")
        .spawn_async(panics_when_told, hello.send_port())
        .await
        .unwrap();
    assert_eq!(iso.debug_name(), "fails");
    iso.add_error_listener(&errors.send_port());
    iso.add_on_exit_listener(&exits.send_port(), "gone".to_string());
    next(&mut hello).await.unwrap().send(()).unwrap();
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
                                   // A second exit notice would be posted at once by `kill`; a few turns are enough to see it.
    wait(100).await;
    exits.close();
    assert!(
        next(&mut exits).await.is_none(),
        "on_exit fired exactly once"
    );
    errors.close();
    let reported: Vec<_> = errors.collect().await;
    assert_eq!(
        reported.len(),
        1,
        "error reported exactly once: {reported:?}"
    );
    match &reported[0] {
        Ok(IsolateError::Panicked { message, .. }) => {
            assert_eq!(message, "isolate failed on purpose")
        }
        other => panic!("expected the panic, got {other:?}"),
    }
}

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function throwSoon(message) { setTimeout(() => { throw new Error(message); }, 0); }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = throwSoon)]
    fn throw_soon(message: &str);
}

/// Echoes numbers; on 0 throws an uncaught JS error (not a wasm trap) and goes on serving.
async fn echo_or_throw(args: (SendPort<SendPort<u32>>, SendPort<u32>)) {
    let (parent, out) = args;
    let Ok(mut inbox) = ReceivePort::<u32>::new() else {
        return;
    };
    let _ = parent.send(inbox.send_port());
    while let Some(Ok(n)) = inbox.next().await {
        if n == 0 {
            throw_soon("thrown on purpose");
        } else {
            let _ = out.send(n);
        }
    }
}

/// Dart's `errorsAreFatal: false`: an uncaught error is reported and the isolate keeps serving;
/// with the default (`true`) the same error ends it.
pub async fn errors_are_not_fatal_when_asked() {
    if !can_spawn() {
        return;
    }
    for fatal in [false, true] {
        let mut hello = ReceivePort::<SendPort<u32>>::new().unwrap();
        let mut out = ReceivePort::<u32>::new().unwrap();
        let mut errors = ReceivePort::<IsolateError>::new().unwrap();
        let iso = Isolate::builder()
            .errors_are_fatal(fatal)
            .spawn_async(echo_or_throw, (hello.send_port(), out.send_port()))
            .await
            .unwrap();
        iso.add_error_listener(&errors.send_port());
        let inbox = next(&mut hello).await.unwrap();
        inbox.send(1).unwrap();
        assert_eq!(next(&mut out).await, Some(1));
        inbox.send(0).unwrap();
        match next(&mut errors).await {
            Some(IsolateError::WorkerError { message, .. }) => {
                assert!(message.contains("thrown on purpose"), "{message}")
            }
            other => panic!("expected a WorkerError report, got {other:?}"),
        }
        if fatal {
            assert!(matches!(iso.exited().await, ExitReason::Failed(_)));
        } else {
            inbox.send(2).unwrap();
            assert_eq!(
                next(&mut out).await,
                Some(2),
                "still serving after the error"
            );
            assert_eq!(iso.state(), IsolateState::Running);
            iso.kill(Priority::Immediate);
        }
    }
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

/// 200 isolates spawned and their handles dropped at once: each runs its entry to the end and
/// exits by itself, and no worker is left behind.
pub async fn spawn_and_drop_200_isolates() {
    if !can_spawn() {
        return;
    }
    let before = live_workers();
    let mut done = ReceivePort::<u32>::new().unwrap();
    for batch in 0..10 {
        let spawns: Vec<_> = (0..20)
            .map(|i| Isolate::spawn(send_index, (batch * 20 + i, done.send_port())))
            .collect();
        for iso in futures_util::future::join_all(spawns).await {
            drop(iso.unwrap());
        }
    }
    let mut seen = [false; 200];
    for _ in 0..200 {
        let i = next(&mut done).await.unwrap();
        seen[i as usize] = true;
    }
    assert!(seen.iter().all(|s| *s), "every isolate ran its entry");
    eventually("every isolate exited", || live_workers() == before).await;
}

fn send_index(args: (u32, SendPort<u32>)) {
    let _ = args.1.send(args.0);
}

/// Dart's lifetime: dropping the handle does not stop an isolate; it serves until it exits.
pub async fn a_dropped_handle_leaves_the_isolate_running() {
    if !can_spawn() {
        return;
    }
    let before = live_workers();
    let mut from_server = ReceivePort::<FromServer>::new().unwrap();
    drop(
        Isolate::spawn_async(ping_server, from_server.send_port())
            .await
            .unwrap(),
    );
    let Some(FromServer::Hello(server)) = next(&mut from_server).await else {
        panic!("expected Hello");
    };
    let mut answers = ReceivePort::<u32>::new().unwrap();
    wait(100).await; // turns enough for a dropped isolate to have been stopped, were it stopped
    server
        .send(ToServer::Ping {
            n: 4,
            reply: answers.send_port(),
        })
        .unwrap();
    assert_eq!(next(&mut answers).await, Some(8), "it still answers");
    server.send(ToServer::Stop).unwrap();
    assert!(matches!(
        next(&mut from_server).await,
        Some(FromServer::Bye)
    ));
    eventually("it exited by itself", || live_workers() == before).await;
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
