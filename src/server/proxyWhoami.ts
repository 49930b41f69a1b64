/**
 * `GET /api/whoami-v2`: who the client's token is, asked upstream every time (never cached: it
 * is about a token, not a repo). huggingface_hub calls it for `hf auth whoami` and some uploads.
 */
import { hubErrorFromResponse } from '../hub/hubErrorFromResponse.js';
import { hubRequest, readBodyText } from '../hub/hubRequest.js';
import type { Admission } from './accessPolicy.js';
import { hubErrorReply, jsonReply, type AppRequest, type Reply } from './reply.js';
import type { ServerContext } from './serverContext.js';
import { upstreamFailureKind, upstreamFailureReply } from './upstreamFailure.js';

type Admitted = Extract<Admission, { ok: true }>;

export async function proxyWhoami(params: { ctx: ServerContext; req: AppRequest; admission: Admitted }): Promise<Reply> {
  const { ctx, req, admission } = params;
  if (req.method !== 'GET') return hubErrorReply({ status: 405, message: 'Use GET here' });
  if (ctx.offline) return hubErrorReply({ status: 504, message: 'The mirror is offline: it cannot ask upstream who a token is' });
  const url = `${ctx.upstream}/api/whoami-v2`;
  try {
    const response = await hubRequest({ method: 'GET', url, token: admission.upstreamToken, redirects: 'relative', headersTimeoutMs: ctx.upstreamTimeoutMs, what: 'ask who the token is' });
    const text = await readBodyText({ body: response.body, limitBytes: 1024 * 1024 });
    if (response.status >= 400) {
      throw hubErrorFromResponse({ status: response.status, url, headers: response.headers, bodyText: text.slice(0, 4096), what: 'ask who the token is', hasToken: Boolean(admission.upstreamToken) });
    }
    return jsonReply({ value: JSON.parse(text) as unknown });
  } catch (err) {
    if (upstreamFailureKind(err) !== 'refusal') ctx.metrics.upstreamErrors += 1;
    return upstreamFailureReply(err);
  }
}
