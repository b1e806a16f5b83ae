// The demo's explore/exploit panel: one pick at a time for the visitor, chosen among the
// model's top candidates either greedily (exploit: the model's best unseen item) or by a LinUCB
// bandit (explore: items the visitor's reactions have not settled yet get a bonus). "Like" and
// "Not for me" are the rewards (1 and 0); the bandit learns from them in wasm, and its state is
// kept with the visitor's profile in IndexedDB (erased with it). The log shows how the picks
// change as the visitor reacts.
const CANDIDATES = 20;
const ALPHA = 0.5;
const LOG = 8;

export class ExplorePanel {
  // ctx: { model, profile, visitor() -> { interactions, exclude }, titleOf(id), onError(e) }
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.bandits = {};
    this.mode = 'explore';
    this.pick = null;
    this.log = [];
    root.querySelector('#explore-mode').addEventListener('change', (e) => this.#guard(() => this.setMode(e.target.value)));
    root.querySelector('#explore-like').addEventListener('click', () => this.#guard(() => this.react(1)));
    root.querySelector('#explore-skip').addEventListener('click', () => this.#guard(() => this.react(0)));
  }

  #guard(fn) {
    Promise.resolve().then(fn).catch((e) => this.ctx.onError(e));
  }

  async #bandit() {
    if (!this.bandits[this.mode]) {
      this.bandits[this.mode] = this.mode === 'explore'
        ? await this.ctx.model.bandit({ policy: 'linucb', alpha: ALPHA, candidates: CANDIDATES, profile: this.ctx.profile })
        : await this.ctx.model.bandit({ policy: 'greedy', candidates: CANDIDATES });
    }
    return this.bandits[this.mode];
  }

  async setMode(mode) {
    this.mode = mode === 'exploit' ? 'exploit' : 'explore';
    await this.next();
  }

  /** A new pick for the visitor as the profile is now. */
  async next() {
    const { interactions, exclude } = this.ctx.visitor();
    const bandit = await this.#bandit();
    const t0 = performance.now();
    this.pick = await bandit.pick(interactions, { exclude });
    this.pickMs = performance.now() - t0;
    this.render();
  }

  async react(reward) {
    if (!this.pick) return;
    const bandit = await this.#bandit();
    const t0 = performance.now();
    await bandit.reward(this.pick.item, reward);
    const ms = performance.now() - t0;
    this.log.unshift({ item: this.pick.item, reward, mode: this.mode, rank: this.pick.candidates.findIndex((c) => c.item === this.pick.item) + 1 });
    this.log.length = Math.min(this.log.length, LOG);
    await this.next();
    this.root.querySelector('#explore-latency').textContent =
      `Update + next pick among the top ${CANDIDATES}: ${(ms + this.pickMs).toFixed(1)} ms, on this device`;
  }

  render() {
    const p = this.pick;
    const rank = p.candidates.findIndex((c) => c.item === p.item) + 1;
    this.root.querySelector('#explore-pick').textContent = this.ctx.titleOf(p.item);
    this.root.querySelector('#explore-why').textContent = this.mode === 'explore'
      ? `LinUCB chose the model's #${rank} of its top ${p.candidates.length} (score with exploration bonus ${p.score.toFixed(3)})`
      : `The model's best unseen item (#${rank})`;
    const list = this.root.querySelector('#explore-log');
    list.replaceChildren(...this.log.map((x) => {
      const li = document.createElement('li');
      li.textContent = `${x.reward ? '👍' : '✗'} ${this.ctx.titleOf(x.item)} — ${x.mode}, model's #${x.rank}`;
      return li;
    }));
    window.edgerecDemo.explore = { mode: this.mode, pick: p.item, rank, log: this.log.slice() };
  }
}
