export {
  APPLICATION_ID,
  FORMAT_VERSION,
  type OpenCheck,
  QUICK_CHECK_MAX_BYTES,
  TABLES,
} from './database.js'
export {
  FileStorage,
  type FileStorageOptions,
  type FileStorageStats,
  openFileStorage,
  type VerifyReport,
} from './file-storage.js'
export { FILE_EXTENSION, fileStoragePath, spaceFileName } from './paths.js'
