// The one benchmark harness: every `pnpm bench:<area>` parses its flags, records its figures and
// prints its table and JSON lines through this package.
export * from './bench.ts'
export * from './figure.ts'
export * from './ignored.ts'
export * from './run.ts'
export * from './stats.ts'
export * from './table.ts'
