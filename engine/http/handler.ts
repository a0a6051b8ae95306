// The shape of an admin API route handler: what the server hands it, what it
// answers (engine/http/server.ts turns the answer into a response).

export interface AdminRequest {
  params: Record<string, string>
  /** the request's absolute URL (pagination answers `next` as one) */
  url: URL
  query: URLSearchParams
  body: () => Promise<Record<string, unknown>>
}

export interface AdminResponse { status: number; body: unknown }

export type AdminHandler = (req: AdminRequest) => Promise<AdminResponse>
