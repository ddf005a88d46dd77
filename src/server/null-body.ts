// The Fetch standard's null body statuses: answers that carry no body, and for which the
// Response constructor refuses one. The proxy and both Node edges decide on this set.

export const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);
