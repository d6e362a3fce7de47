export async function runOrdersBench(_o: unknown): Promise<unknown> { throw new Error('todo'); }
