// The IndexedDB adapter under Node, on fake-indexeddb (an in-memory IndexedDB): the shared Storage
// acceptance suite, then the adapter's own tests.
import 'fake-indexeddb/auto'
import { runStorageAdapterTests } from '@mendsync/replica/testing'
import { describe } from 'vitest'
import { defineIdbStorageTests } from './cases.js'
import { idbSetup } from './harness.js'

runStorageAdapterTests(idbSetup(), { name: 'Storage contract: IndexedDB on fake-indexeddb' })

describe('IndexedDB storage on fake-indexeddb', () => {
  defineIdbStorageTests()
})
