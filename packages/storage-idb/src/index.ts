export {
  DEFAULT_BLOCKED_TIMEOUT_MS,
  type DeleteIdbStorageOptions,
  defaultIdbName,
  deleteIdbStorage,
  type ForcedClose,
  IDB_SCHEMA_VERSION,
  type IdbStorageOptions,
  openIdbStorage,
} from './idb-storage.js'
