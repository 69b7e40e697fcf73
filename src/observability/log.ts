// One-line logs to stderr. Never log request bodies, keys or upstream credentials.
export const log = {
  info: (message: string) => console.error(`${new Date().toISOString()} info  ${message}`),
  warn: (message: string) => console.error(`${new Date().toISOString()} warn  ${message}`),
  error: (message: string) => console.error(`${new Date().toISOString()} error ${message}`),
};
