//! [`Capabilities`]: what this host can do, detected without side effects.

/// The kind of global scope the caller runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GlobalContext {
    /// A page (`Window`).
    Window,
    /// A dedicated Web Worker (including an isolate of this crate).
    DedicatedWorker,
    /// A shared worker.
    SharedWorker,
    /// A service worker.
    ServiceWorker,
    /// Anything else: Node.js, Deno, or a native (non-wasm) build.
    Other,
}

impl GlobalContext {
    /// The lowercase name used by the JS API: `"window"`, `"dedicated-worker"`, ...
    ///
    /// ```
    /// assert_eq!(wasm_isolates::GlobalContext::Window.as_str(), "window");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Window => "window",
            Self::DedicatedWorker => "dedicated-worker",
            Self::SharedWorker => "shared-worker",
            Self::ServiceWorker => "service-worker",
            Self::Other => "other",
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    fn parse(s: &str) -> Self {
        match s {
            "window" => Self::Window,
            "dedicated-worker" => Self::DedicatedWorker,
            "shared-worker" => Self::SharedWorker,
            "service-worker" => Self::ServiceWorker,
            _ => Self::Other,
        }
    }
}

/// What the current host supports, and so which parts of the API work here.
///
/// One-shot tasks ([`run`](crate::run::run), [`compute`](crate::run::compute)) need [`workers`] and
/// [`module_workers`]. Long-lived isolates need [`shared_array_buffer`] too, which browsers only
/// expose on cross-origin isolated pages (served with `Cross-Origin-Opener-Policy: same-origin`
/// and `Cross-Origin-Embedder-Policy: require-corp`) — and not every browser even there:
/// WebKitGTK 2.50 reports `crossOriginIsolated === true` with no `SharedArrayBuffer`. So
/// [`can_spawn`](Self::can_spawn) looks for `SharedArrayBuffer` itself and never infers it from
/// [`cross_origin_isolated`], which is reported for information only.
///
/// [`workers`]: Self::workers
/// [`module_workers`]: Self::module_workers
/// [`shared_array_buffer`]: Self::shared_array_buffer
/// [`cross_origin_isolated`]: Self::cross_origin_isolated
///
/// ```
/// use wasm_isolates::Capabilities;
///
/// let caps = Capabilities::detect();
/// if !caps.can_run() {
///     // fall back to computing on this thread
/// }
/// println!("{} isolates would use every core", caps.hardware_concurrency);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// `Worker` exists in this scope (it does in pages and, in current browsers, in dedicated
    /// workers).
    pub workers: bool,
    /// Workers can load ES modules (`{type: "module"}`), which isolates use to import the glue.
    pub module_workers: bool,
    /// The `SharedArrayBuffer` constructor exists in this scope, so long-lived isolates can share
    /// a control block. This, not [`cross_origin_isolated`](Self::cross_origin_isolated), decides
    /// [`can_spawn`](Self::can_spawn).
    pub shared_array_buffer: bool,
    /// The page is cross-origin isolated (`self.crossOriginIsolated`). Necessary for
    /// `SharedArrayBuffer` in Chromium and Firefox, but not sufficient: WebKitGTK 2.50 is isolated
    /// and has none.
    pub cross_origin_isolated: bool,
    /// `navigator.hardwareConcurrency` (on native builds: the available parallelism).
    pub hardware_concurrency: u32,
    /// Where the caller runs.
    pub context: GlobalContext,
    /// The caller is itself inside an isolate started by this crate.
    pub in_isolate: bool,
}

impl Capabilities {
    /// Detects the host's capabilities. Cheap; results of the one probe that needs work (module
    /// worker support) are cached.
    #[cfg(target_arch = "wasm32")]
    pub fn detect() -> Self {
        use js_sys::Reflect;
        use wasm_bindgen::JsValue;

        let global = js_sys::global();
        let get = |name: &str| Reflect::get(&global, &JsValue::from_str(name)).ok();
        let workers = get("Worker").is_some_and(|v| v.is_function());
        // The constructor itself, not `crossOriginIsolated`: an isolated WebKitGTK page has none.
        let shared_array_buffer = get("SharedArrayBuffer").is_some_and(|v| v.is_function());
        let cross_origin_isolated =
            get("crossOriginIsolated").and_then(|v| v.as_bool()) == Some(true);
        let hardware_concurrency = get("navigator")
            .and_then(|nav| Reflect::get(&nav, &JsValue::from_str("hardwareConcurrency")).ok())
            .and_then(|n| n.as_f64())
            .map_or(1, |n| n.max(1.0) as u32);
        Capabilities {
            workers,
            module_workers: workers && crate::platform::host::supports_module_workers(),
            shared_array_buffer,
            cross_origin_isolated,
            hardware_concurrency,
            context: GlobalContext::parse(&crate::platform::host::global_context()),
            in_isolate: crate::platform::host::is_isolate(),
        }
    }

    /// Detects the host's capabilities. On native builds there are no Web Workers; one-shot
    /// tasks run on threads instead.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn detect() -> Self {
        Capabilities {
            workers: false,
            module_workers: false,
            shared_array_buffer: false,
            cross_origin_isolated: false,
            hardware_concurrency: std::thread::available_parallelism()
                .map_or(1, |n| n.get() as u32),
            context: GlobalContext::Other,
            in_isolate: false,
        }
    }

    /// One-shot tasks ([`run`](crate::run::run), [`compute`](crate::run::compute), pools) work here.
    pub fn can_run(&self) -> bool {
        (self.workers && self.module_workers) || cfg!(not(target_arch = "wasm32"))
    }

    /// Long-lived isolates (`Isolate::spawn`) work here: module workers and `SharedArrayBuffer`
    /// (present, whatever `crossOriginIsolated` says).
    pub fn can_spawn(&self) -> bool {
        self.workers && self.module_workers && self.shared_array_buffer
    }
}

/// True inside an isolate started by this crate. Use it to keep a `#[wasm_bindgen(start)]`
/// function — which runs again in every worker that instantiates the module — from doing
/// page-only work there.
///
/// ```
/// // #[wasm_bindgen(start)]
/// fn start() {
///     if wasm_isolates::is_isolate() {
///         return; // no DOM in a worker
///     }
///     // mount the UI ...
/// }
/// # start();
/// ```
pub fn is_isolate() -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        crate::platform::host::is_isolate()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_names_round_trip() {
        for c in [
            GlobalContext::Window,
            GlobalContext::DedicatedWorker,
            GlobalContext::SharedWorker,
            GlobalContext::ServiceWorker,
            GlobalContext::Other,
        ] {
            assert_eq!(GlobalContext::parse(c.as_str()), c);
        }
    }

    #[test]
    fn spawn_is_decided_by_shared_array_buffer_not_by_isolation() {
        // WebKitGTK 2.50 on a page served with COOP/COEP: isolated, no SharedArrayBuffer.
        let webkit = Capabilities {
            workers: true,
            module_workers: true,
            shared_array_buffer: false,
            cross_origin_isolated: true,
            hardware_concurrency: 4,
            context: GlobalContext::Window,
            in_isolate: false,
        };
        assert!(!webkit.can_spawn());
        let with_sab = Capabilities {
            shared_array_buffer: true,
            ..webkit.clone()
        };
        assert!(with_sab.can_spawn());
        let no_module_workers = Capabilities {
            module_workers: false,
            ..with_sab
        };
        assert!(!no_module_workers.can_spawn());
    }

    #[test]
    fn native_detect_reports_threads() {
        let caps = Capabilities::detect();
        assert!(caps.hardware_concurrency >= 1);
        assert!(caps.can_run());
        assert!(!caps.can_spawn());
        assert!(!is_isolate());
    }
}
