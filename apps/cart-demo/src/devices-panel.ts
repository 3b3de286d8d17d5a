// The "Devices" card of a private cart: add a device (an invite link and its QR code), the
// devices that hold grants, and revoking one. The leader tab's replica does the signing
// (`leaderCommands.invite` / `revoke`); every tab draws the card.
import type { DeviceGrant } from '@mendsync/replica'
import type { Tabs } from '@mendsync/tabs'
import qrcode from 'qrcode-generator'
import { inviteLink } from './cart-space.js'
import { escapeHtml } from './html.js'
import type { DeviceAccess } from './leader.js'

/** How many invites this tab remembers having shown (the list is for the user, not a ledger). */
const INVITES_REMEMBERED = 10

/** A device row: a grant the replica knows, or (until `devices()` reports some) this device. */
function deviceRow(grant: DeviceGrant, self: string | undefined): string {
  const mine = grant.peer === self
  const label = mine ? '<span class="badge good">this device</span>' : ''
  const state = grant.revoked
    ? '<span class="badge bad">revoked</span>'
    : `<span class="badge info">${escapeHtml(grant.rights.join(', '))}</span>`
  const revoke =
    mine || grant.revoked
      ? ''
      : `<button data-device-action="revoke" data-peer="${escapeHtml(grant.peer)}" data-testid="revoke-${escapeHtml(grant.peer)}">Revoke</button>`
  return `<li data-peer="${escapeHtml(grant.peer)}" data-revoked="${grant.revoked}">
    <span class="mono" title="${escapeHtml(grant.peer)}">${escapeHtml(grant.peer.slice(0, 14))}…</span> ${label} ${state} ${revoke}</li>`
}

/** The devices card of a private cart. */
export class DevicesPanel {
  readonly #tabs: Tabs
  readonly #root: HTMLElement
  #access: DeviceAccess | undefined
  #invite: string | undefined
  /** Invites shown here, newest first: who holds them is unknown until they connect. */
  readonly #invites: { at: number; link: string }[] = []
  #error: string | undefined

  constructor(tabs: Tabs, root: HTMLElement) {
    this.#tabs = tabs
    this.#root = root
    root.hidden = false
    root.addEventListener('click', (event) => {
      const target = (event.target as HTMLElement).closest<HTMLElement>('[data-device-action]')
      if (target === null) return
      if (target.dataset.deviceAction === 'invite') void this.#makeInvite()
      if (target.dataset.deviceAction === 'revoke') void this.#revoke(target.dataset.peer ?? '')
    })
    root.addEventListener('submit', (event) => {
      event.preventDefault()
      const input = root.querySelector<HTMLInputElement>('#revoke-peer')
      if (input !== null && input.value.trim() !== '') void this.#revoke(input.value.trim())
    })
  }

  /** Reads the leader's access state again and redraws. */
  async refresh(): Promise<void> {
    try {
      this.#access = await this.#tabs.call<DeviceAccess>('access')
      this.#error = undefined
    } catch (error) {
      this.#error = error instanceof Error ? error.message : String(error)
    }
    this.#render()
  }

  async #makeInvite(): Promise<void> {
    try {
      const link = inviteLink(await this.#tabs.call<string>('invite'))
      this.#invite = link
      this.#invites.unshift({ at: Date.now(), link })
      this.#invites.length = Math.min(this.#invites.length, INVITES_REMEMBERED)
      this.#error = undefined
    } catch (error) {
      this.#error = error instanceof Error ? error.message : String(error)
    }
    this.#render()
  }

  async #revoke(peer: string): Promise<void> {
    try {
      await this.#tabs.call('revoke', peer)
      this.#error = undefined
    } catch (error) {
      this.#error = error instanceof Error ? error.message : String(error)
    }
    await this.refresh()
  }

  #render(): void {
    const access = this.#access
    const self = access?.peerId
    // `devices()` lists the grants the replica has seen; until it reports any, this device
    // (whose own grant is certain) is the one the card can name.
    const devices: readonly DeviceGrant[] =
      access === undefined
        ? []
        : access.devices.length > 0
          ? access.devices
          : self === undefined
            ? []
            : [
                {
                  peer: self,
                  rights: access.status.rights,
                  expiresAt: access.status.expiresAt,
                  grantedBy: '',
                  revoked: access.status.revoked,
                },
              ]
    const canInvite = access?.status.rights.includes('invite') === true
    const qr = this.#invite === undefined ? '' : qrSvg(this.#invite)
    this.#root.innerHTML = `
      <h2>Devices</h2>
      <p class="muted">This cart is private: only devices holding a grant can read it.
        ${access?.status.revoked ? '<span class="badge bad" data-testid="revoked">this device was revoked</span>' : ''}</p>
      ${canInvite ? '<button data-device-action="invite" data-testid="add-device">Add a device</button>' : ''}
      ${
        this.#invite === undefined
          ? ''
          : `<div class="invite"><p>Open this link on the other device (valid one day):</p>
        <input readonly class="mono" data-testid="invite-link" value="${escapeHtml(this.#invite)}" aria-label="invite link" />
        <div class="qr" data-testid="invite-qr">${qr}</div></div>`
      }
      <h4>Devices holding grants</h4>
      <ul class="devices" data-testid="devices">${devices.map((grant) => deviceRow(grant, self)).join('') || '<li class="muted">none known</li>'}</ul>
      ${
        canInvite
          ? `<form id="revoke-form"><label>Revoke a device by peer id
          <input id="revoke-peer" class="mono" data-testid="revoke-peer" autocomplete="off" /></label>
          <button data-testid="revoke-submit">Revoke</button></form>`
          : ''
      }
      ${this.#invites.length > 1 ? `<p class="muted">${this.#invites.length} invites shown in this tab.</p>` : ''}
      ${this.#error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(this.#error)}</p>`}`
  }
}

/** The QR code of `text` as an SVG tag (type 0: the smallest version that fits). */
function qrSvg(text: string): string {
  const code = qrcode(0, 'L')
  code.addData(text)
  code.make()
  return code.createSvgTag({ cellSize: 3, margin: 2, scalable: true })
}
