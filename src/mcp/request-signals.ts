/**
 * A fetch that gives each request its own AbortSignal, aborted when the caller's signal aborts.
 *
 * The MCP SDK's Streamable HTTP client passes its transport's one signal to every fetch, and
 * undici's fetch adds an abort listener to that signal per request, dropped only when the request
 * is garbage-collected, after raising the signal's listener limit to 1,500: a bridge in front of a
 * remote server printed MaxListenersExceededWarning after about 1,500 calls, and held a listener
 * (and its request) per call until a GC. Here a shared signal gets one listener, which aborts the
 * requests still live; a request leaves that set when its answer is read to the end, fails, or
 * has no body.
 */
export function perRequestSignals(fetchImpl: typeof fetch = fetch): typeof fetch {
  const live = new WeakMap<AbortSignal, Set<AbortController>>();
  const requestsOf = (shared: AbortSignal): Set<AbortController> => {
    let requests = live.get(shared);
    if (requests !== undefined) return requests;
    const set = new Set<AbortController>();
    shared.addEventListener(
      'abort',
      () => {
        for (const request of set) request.abort(shared.reason);
        set.clear();
      },
      { once: true },
    );
    live.set(shared, set);
    requests = set;
    return requests;
  };
  return async (input, init) => {
    const shared = init?.signal;
    if (shared === undefined || shared === null) return fetchImpl(input, init);
    shared.throwIfAborted();
    const own = new AbortController();
    const requests = requestsOf(shared);
    requests.add(own);
    const release = () => void requests.delete(own);
    let response: Response;
    try {
      response = await fetchImpl(input, { ...init, signal: own.signal });
    } catch (error) {
      release();
      throw error;
    }
    if (response.body === null) {
      release();
      return response;
    }
    const body = response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ flush: release }));
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}
