// The cart demo: a shared shopping cart kept in an IndexedDB replica. One tab of the profile (the
// leader) runs the replica and the libp2p node; every tab shows the cart and the status panel.
import { type CartLine, LIMITS, readCart } from '@mendsync/core'
import { BoundedMap } from '@mendsync/core/toolbox'
import type { ReadResult } from '@mendsync/replica'
import { openTabs, type Tabs } from '@mendsync/tabs'
import { resolveCartSpace } from './cart-space.js'
import { CATALOGUE, money, product } from './catalogue.js'
import { DevicesPanel } from './devices-panel.js'
import { escapeHtml } from './html.js'
import {
  devicePeerId,
  leaderCommands,
  type NetworkState,
  openLeaderReplica,
  storageKey,
} from './leader.js'
import { demoLogger } from './logger.js'
import { Panel } from './panel.js'
import './styles.css'

const CART_KEY = 'cart'
const NOTE_KEY = 'note'
/** Lines this tab removed whose comeback it would explain (one per sku; the cart is small). */
const REMOVALS_REMEMBERED = 100

/** Why a typed quantity cannot be set, or undefined when it can. */
function quantityProblem(typed: string, qty: number): string | undefined {
  const empty = typed.trim() === ''
  if (!empty && Number.isInteger(qty) && qty >= 0 && qty <= LIMITS.maxQuantity) return undefined
  const shown = empty ? 'An empty field' : `“${typed}”`
  return `${shown} is not a quantity: type a whole number from 0 to ${LIMITS.maxQuantity} (0 removes the line).`
}

const params = new URLSearchParams(location.search)

/** The relay: `?relay=<multiaddr>`, else the origin server's `/relay.json`, else the last one known. */
async function resolveRelay(space: string): Promise<string | undefined> {
  const remembered = storageKey(space, 'relay')
  const fromUrl = params.get('relay')
  if (fromUrl) {
    localStorage.setItem(remembered, fromUrl)
    return fromUrl
  }
  try {
    const response = await fetch('/relay.json', { cache: 'no-store' })
    if (response.ok) {
      const body = (await response.json()) as { relay?: unknown }
      if (typeof body.relay === 'string' && body.relay.length > 0) {
        localStorage.setItem(remembered, body.relay)
        return body.relay
      }
    }
  } catch (error) {
    // Offline, or served without a relay: fall back to the last one known.
    demoLogger.debug('no /relay.json; using the last relay known', { error })
  }
  return localStorage.getItem(remembered) ?? undefined
}

function element<T extends HTMLElement>(selector: string): T {
  const found = document.querySelector<T>(selector)
  if (found === null) throw new Error(`the page has no ${selector}`)
  return found
}

/** A product's badge: its initial on its colour. */
function chip(name: string, color: string): string {
  return `<span class="chip" style="background:${color}" aria-hidden="true">${escapeHtml(name.slice(0, 1).toUpperCase())}</span>`
}

/** The element of one cart line; `#renderCart` fills in what changes. */
function cartLineElement(sku: string): HTMLElement {
  const item = document.createElement('li')
  item.dataset.sku = sku
  const s = escapeHtml(sku)
  item.innerHTML = `
    <span class="who"></span>
    <span class="qty">
      <button data-action="dec" data-sku="${s}" data-testid="dec-${s}" aria-label="one less">−</button>
      <input type="number" min="0" data-action="qty" data-sku="${s}" data-testid="qty-${s}" aria-label="quantity" />
      <button data-action="inc" data-sku="${s}" data-testid="inc-${s}" aria-label="one more">+</button>
    </span>
    <span class="price"></span>
    <button class="remove" data-action="remove" data-sku="${s}" data-testid="remove-${s}" aria-label="remove">✕</button>
    <p class="line-note" data-testid="note-${s}" role="status" hidden></p>`
  return item
}

function part<T extends HTMLElement = HTMLElement>(item: HTMLElement, selector: string): T {
  const found = item.querySelector<T>(selector)
  if (found === null) throw new Error(`a cart line has no ${selector}`)
  return found
}

/** Sets markup only when it differs, so an unchanged line is not re-parsed on every change. */
function setHtml(target: HTMLElement, html: string): void {
  if (target.innerHTML !== html) target.innerHTML = html
}

class CartApp {
  readonly #tabs: Tabs
  readonly #panel: Panel
  readonly #devices: DevicesPanel | undefined
  #lines: readonly CartLine[] = []
  #note: ReadResult | undefined
  #network: NetworkState | undefined
  /** Lines this tab removed, until they come back or the user acts on them again. */
  readonly #removed = new BoundedMap<string, true>(REMOVALS_REMEMBERED)
  /** What each line's note explains (a refused quantity, an add-wins comeback). */
  readonly #lineNotes = new Map<string, { kind: 'invalid' | 'comeback'; text: string }>()

  /** `privateCart`: the cart is a private space, so the devices card is shown. */
  constructor(tabs: Tabs, privateCart: boolean) {
    this.#tabs = tabs
    this.#panel = new Panel(tabs, element('#panel'))
    this.#devices = privateCart ? new DevicesPanel(tabs, element('#devices')) : undefined
  }

  async start(): Promise<void> {
    this.#renderCatalogue()
    this.#bindEvents()
    this.#tabs.subscribe(CART_KEY, (change) => {
      this.#lines = readCart(change.state)
      if (change.origin !== 'local') this.#explainComebacks()
      this.#renderCart()
    })
    this.#tabs.subscribe(NOTE_KEY, () => void this.#loadNote())
    this.#tabs.onRoleChange(() => this.#renderRole())
    this.#tabs.onLeaderChange(() => {
      this.#renderRole()
      // A leader that died may have persisted changes it never announced: read again.
      void this.#load()
    })
    this.#panel.onNetwork((network) => {
      this.#network = network
      this.#renderSwitch()
      void this.#devices?.refresh()
    })
    this.#renderRole()
    await this.#load()
    this.#panel.start()
    document.body.dataset.ready = 'true'
  }

  async #load(): Promise<void> {
    try {
      const cart = await this.#tabs.get(CART_KEY)
      this.#lines = cart.lines
      this.#renderCart()
      await this.#loadNote()
    } catch (error) {
      this.#flash(error)
    }
  }

  async #loadNote(): Promise<void> {
    this.#note = await this.#tabs.get(NOTE_KEY)
    this.#renderNote()
  }

  // ---- actions -------------------------------------------------------------------------------

  #bindEvents(): void {
    document.addEventListener('click', (event) => {
      const target = (event.target as HTMLElement).closest<HTMLElement>('[data-action]')
      if (target === null) return
      const sku = target.dataset.sku ?? ''
      const cart = this.#tabs.cart(CART_KEY)
      const line = this.#lines.find((entry) => entry.sku === sku)
      const action = target.dataset.action
      if (action === 'add' || action === 'inc' || action === 'dec' || action === 'remove') {
        this.#acted(sku)
      }
      switch (action) {
        case 'add': {
          const known = product(sku)
          // The first add names the line (meta); later adds only count.
          const meta =
            line === undefined && known ? { name: known.name, price: known.price } : undefined
          this.#run(cart.add(sku, 1, meta))
          break
        }
        case 'inc':
          this.#run(cart.add(sku, 1))
          break
        case 'dec': {
          const qty = Math.max(0, (line?.qty ?? 1) - 1)
          const set = cart.setQty(sku, qty)
          this.#run(qty === 0 ? set.then(() => this.#removed.set(sku, true)) : set)
          break
        }
        case 'remove':
          this.#run(cart.remove(sku).then(() => this.#removed.set(sku, true)))
          break
        case 'keep-note': {
          const index = Number(target.dataset.index)
          const sibling = this.#note?.siblings[index]
          if (sibling !== undefined && this.#note !== undefined) {
            this.#run(this.#tabs.put(NOTE_KEY, sibling.value, this.#note.context))
          }
          break
        }
      }
    })
    document.addEventListener('change', (event) => {
      const target = event.target as HTMLInputElement
      if (target.dataset.action === 'qty') {
        const sku = target.dataset.sku ?? ''
        const qty = Number(target.value)
        const problem = quantityProblem(target.value, qty)
        this.#acted(sku)
        if (problem === undefined) {
          const set = this.#tabs.cart(CART_KEY).setQty(sku, qty)
          this.#run(qty === 0 ? set.then(() => this.#removed.set(sku, true)) : set)
        } else {
          // Shown on the line; the input goes back to the cart's quantity when it loses focus.
          this.#lineNotes.set(sku, { kind: 'invalid', text: problem })
          this.#renderCart()
        }
      }
      if (target.id === 'online') this.#setOnline(target.checked)
    })
    // A quantity input keeps what is typed while focused. Leaving it commits a changed value
    // (the `change` above fires first); Escape abandons the edit and shows the cart's quantity.
    document.addEventListener('focusout', (event) => {
      if ((event.target as HTMLElement).dataset.action === 'qty') this.#renderCart()
    })
    document.addEventListener('keydown', (event) => {
      const target = event.target as HTMLInputElement
      if (event.key !== 'Escape' || target.dataset.action !== 'qty') return
      const line = this.#lines.find((entry) => entry.sku === target.dataset.sku)
      // Set before blurring: the browser then sees no edit to commit as a `change`.
      if (line !== undefined) target.value = String(line.qty)
      target.blur()
    })
    element<HTMLFormElement>('#note-form').addEventListener('submit', (event) => {
      event.preventDefault()
      const input = element<HTMLInputElement>('#note-input')
      this.#run(this.#tabs.put(NOTE_KEY, input.value, this.#note?.context))
    })
  }

  #setOnline(on: boolean): void {
    const toggle = element<HTMLInputElement>('#online')
    toggle.disabled = true
    this.#tabs
      .call<NetworkState | undefined>('setOnline', on)
      .then((network) => {
        this.#network = network
        this.#renderSwitch()
        this.#panel.refresh()
      })
      .catch((error: unknown) => this.#flash(error))
      .finally(() => {
        toggle.disabled = false
      })
  }

  /** The user acted on line `sku`: what its note explained is no longer news. */
  #acted(sku: string): void {
    this.#removed.delete(sku)
    if (this.#lineNotes.delete(sku)) this.#renderCart()
  }

  /**
   * A line this tab removed is back after a change from elsewhere: another device added to it
   * (concurrently, or after the removal). A removal removes only what this device had seen, so
   * the line returns with the other device's additions: say so, rather than let it reappear.
   */
  #explainComebacks(): void {
    for (const line of this.#lines) {
      if (!this.#removed.has(line.sku)) continue
      this.#removed.delete(line.sku)
      this.#lineNotes.set(line.sku, {
        kind: 'comeback',
        text: `Back in the cart: another device added ${line.qty === 1 ? 'one' : line.qty} while your removal was on its way. A removal only takes out what this device had seen, so their addition stays. Remove it again if you don't want it.`,
      })
    }
  }

  #run(work: Promise<unknown>): void {
    work.catch((error: unknown) => this.#flash(error))
  }

  #flash(error: unknown): void {
    const box = element('#message')
    box.textContent = error instanceof Error ? error.message : String(error)
    box.hidden = false
    setTimeout(() => {
      box.hidden = true
    }, 5_000)
  }

  // ---- rendering -----------------------------------------------------------------------------

  #renderCatalogue(): void {
    element('#catalogue').innerHTML = CATALOGUE.map(
      (item) => `
      <li>
        ${chip(item.name, item.color)}
        <span class="name">${escapeHtml(item.name)}</span>
        <span class="price">${money(item.price)}</span>
        <button data-action="add" data-sku="${item.sku}" data-testid="add-${item.sku}">Add</button>
      </li>`,
    ).join('')
  }

  /**
   * Updates the drawn list in place, one element per line (keyed by sku), rather than redrawing
   * it: a change arriving from another tab or peer while someone types a quantity must not
   * replace the input under their cursor. A focused quantity input keeps what is typed until it
   * is committed (Enter, leaving it) or abandoned (Escape); everything else (the line's
   * `data-qty`, its price, the total) shows the cart.
   */
  #renderCart(): void {
    const list = element('#cart')
    const drawn = new Map<string, HTMLElement>()
    for (const item of Array.from(list.children) as HTMLElement[]) {
      drawn.set(item.dataset.sku ?? '', item)
    }
    let total = 0
    let previous: HTMLElement | undefined
    for (const line of this.#lines) {
      const known = product(line.sku)
      const meta = (line.meta ?? {}) as { name?: unknown; price?: unknown }
      const name = known?.name ?? (typeof meta.name === 'string' ? meta.name : line.sku)
      const price = known?.price ?? (typeof meta.price === 'number' ? meta.price : 0)
      total += price * line.qty
      const metas = new Set(line.metaSiblings.map((entry) => JSON.stringify(entry)))
      const conflict =
        metas.size > 1
          ? ` <span class="badge warn" title="concurrent edits of this line's details">${metas.size} versions</span>`
          : ''
      const item = drawn.get(line.sku) ?? cartLineElement(line.sku)
      drawn.delete(line.sku)
      item.dataset.qty = String(line.qty)
      setHtml(
        part(item, '.who'),
        `${chip(name, known?.color ?? '#7f8c8d')}<span class="name">${escapeHtml(name)}${conflict}</span>`,
      )
      part(item, '.price').textContent = money(price * line.qty)
      const note = part(item, '.line-note')
      const explained = this.#lineNotes.get(line.sku)
      note.hidden = explained === undefined
      note.textContent = explained?.text ?? ''
      note.className = `line-note ${explained?.kind ?? ''}`
      part(item, 'input').setAttribute('aria-invalid', String(explained?.kind === 'invalid'))
      const input = part<HTMLInputElement>(item, 'input')
      if (document.activeElement !== input) input.value = String(line.qty)
      const next = previous === undefined ? list.firstElementChild : previous.nextElementSibling
      if (next !== item) list.insertBefore(item, next)
      previous = item
    }
    for (const gone of drawn.values()) gone.remove()
    element('#cart-empty').hidden = this.#lines.length > 0
    element('#total').textContent = money(total)
    const count = this.#lines.reduce((sum, line) => sum + line.qty, 0)
    element('#count').textContent = String(count)
    document.body.dataset.lines = String(this.#lines.length)
  }

  #renderNote(): void {
    const note = this.#note
    const input = element<HTMLInputElement>('#note-input')
    const conflicts = element('#note-conflicts')
    if (note === undefined) return
    if (note.conflict) {
      conflicts.hidden = false
      conflicts.innerHTML = `<p><span class="badge warn">conflict</span> The note was edited in two places at once. Keep one:</p>
        <ul>${note.siblings
          .map(
            (sibling, index) =>
              `<li><q>${escapeHtml(String(sibling.value))}</q> <button data-action="keep-note" data-index="${index}">Keep</button></li>`,
          )
          .join('')}</ul>`
    } else {
      conflicts.hidden = true
      conflicts.innerHTML = ''
      if (document.activeElement !== input)
        input.value = note.value === undefined ? '' : String(note.value)
    }
    document.body.dataset.noteSiblings = String(note.siblings.length)
    this.#panel.setConflicts(this.#conflicts())
  }

  #conflicts(): string[] {
    const found: string[] = []
    if (this.#note?.conflict) found.push(`note: ${this.#note.siblings.length} siblings`)
    for (const line of this.#lines) {
      const metas = new Set(line.metaSiblings.map((entry) => JSON.stringify(entry)))
      if (metas.size > 1) found.push(`cart line ${line.sku}: ${metas.size} versions of its details`)
    }
    return found
  }

  #renderRole(): void {
    const role = this.#tabs.role
    document.body.dataset.role = role
    const badge = element('#role')
    const leader = this.#tabs.leaderTabId
    badge.textContent =
      role === 'leader'
        ? 'this tab leads'
        : leader === undefined
          ? 'waiting for a leader tab'
          : `follows tab ${leader.slice(0, 6)}`
    badge.className = `badge ${role === 'leader' ? 'good' : 'info'}`
  }

  #renderSwitch(): void {
    const toggle = element<HTMLInputElement>('#online')
    if (this.#network !== undefined && document.activeElement !== toggle) {
      toggle.checked = this.#network.enabled
    }
  }
}

async function main(): Promise<void> {
  if ('serviceWorker' in navigator && params.get('sw') !== 'off') {
    navigator.serviceWorker.register('/sw.js').catch((error: unknown) => {
      console.warn('mendsync demo: no service worker', error)
    })
  }
  // `?space=<name>`: the named open space of the earlier demo; else this shopper's private cart.
  const named = params.get('space')
  const cart = await resolveCartSpace(named, named === null ? await devicePeerId() : '')
  document.body.dataset.space = cart.space
  const tabs = await openTabs({
    space: cart.space,
    openReplica: async (leader) =>
      await openLeaderReplica(leader, cart, await resolveRelay(cart.space)),
    commands: leaderCommands,
  })
  // For the console: `mendsyncDemo.tabs.status()`, `mendsyncDemo.tabs.get('cart')`, ...
  ;(globalThis as { mendsyncDemo?: unknown }).mendsyncDemo = { tabs }
  await new CartApp(tabs, cart.kind === 'private').start()
}

main().catch((error: unknown) => {
  document.body.dataset.error = String(error)
  const box = document.querySelector('#message')
  if (box !== null) {
    box.textContent = `The cart could not start: ${error instanceof Error ? error.message : String(error)}`
    ;(box as HTMLElement).hidden = false
  }
})
