// The JSON API of the same origin: reads, the cancel request, and the tree long-poll the
// CLI's follower uses (``GET /operations/{id}/tree?since=V&wait=S``).

import { setConnection } from "./dom.js";
import { TERMINAL } from "./vocabulary.js";

const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function failure(response) {
  let code = "http_error";
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message);
}

/** The whole envelope of a GET (listings carry total/limit/offset beside data). */
export async function getEnvelope(path, signal) {
  const response = await fetch(API + path, {
    headers: { Accept: "application/json" },
    cache: "no-store",
    signal,
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

export async function getData(path, signal) {
  return (await getEnvelope(path, signal)).data;
}

/** Ask the backend to cancel an operation. JSON content type: the backend's guard refuses
 * state-changing requests without it (a cross-origin page cannot send one unasked). */
export async function cancelOperation(id) {
  const response = await fetch(`${API}/operations/${encodeURIComponent(id)}`, {
    method: "DELETE",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
  });
  if (!response.ok) throw await failure(response);
  return (await response.json()).data;
}

const WAIT_SECONDS = 25; // under the backend's 60 s limit and any idle proxy timeout
const RETRY_MS = [500, 1000, 2000, 5000];

function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Follow an operation tree: ``onTree(tree)`` gets the first answer and then every change
 * (each answer holds the current state of every node and the significant changes since
 * the version before). Ends when the root is terminal or ``signal`` aborts. A 304 means
 * the wait ran out with nothing new; errors are retried with a growing pause.
 */
export async function followTree(id, onTree, signal) {
  let since = 0;
  let failures = 0;
  const path = `${API}/operations/${encodeURIComponent(id)}/tree`;
  while (!signal?.aborted) {
    const wait = since === 0 ? 0 : WAIT_SECONDS;
    let response;
    try {
      response = await fetch(`${path}?since=${since}&wait=${wait}`, {
        headers: { Accept: "application/json" },
        cache: "no-store",
        signal,
      });
    } catch (error) {
      if (signal?.aborted) return;
      setConnection("reconnecting…", false);
      await pause(RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)], signal);
      continue;
    }
    if (response.status === 304 || response.status === 204) {
      setConnection("live", true);
      continue;
    }
    if (!response.ok) {
      const error = await failure(response);
      if (error.status === 404) throw error;
      setConnection("reconnecting…", false);
      await pause(RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)], signal);
      continue;
    }
    failures = 0;
    setConnection("live", true);
    const tree = (await response.json()).data;
    since = tree.version;
    onTree(tree);
    const root = tree.operations[0];
    if (root && TERMINAL.has(root.status)) return;
  }
}
