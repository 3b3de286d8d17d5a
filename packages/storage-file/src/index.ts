export { isDiskFull } from './errors.js'
export {
  FileStorage,
  type FileStorageOptions,
  type FileStorageStats,
  openFileStorage,
  type VerifyReport,
} from './file-storage.js'
export {
  APPLICATION_ID,
  FORMAT_VERSION,
  FULL_CHECK_MAX_BYTES,
  type OpenCheck,
  QUICK_CHECK_MAX_BYTES,
  TABLES,
} from './format.js'
export { FILE_EXTENSION, fileStoragePath, spaceFileName } from './paths.js'
