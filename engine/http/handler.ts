// The shape of an admin API route handler: what the server hands it, what it
// answers (engine/http/server.ts turns the answer into a response).
import type { Grant } from '../control/scopes'

export interface AdminRequest {
  params: Record<string, string>
  /** the request's absolute URL (pagination answers `next` as one) */
  url: URL
  query: URLSearchParams
  /** the JSON object sent; with `optional`, an empty body reads as {} */
  body: (optional?: boolean) => Promise<Record<string, unknown>>
  /** who is calling: the route's own need was checked already (route-access.ts); lists filter with it */
  grant: Grant
}

export interface AdminResponse { status: number; body: unknown }

export type AdminHandler = (req: AdminRequest) => Promise<AdminResponse>
