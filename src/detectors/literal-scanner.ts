/**
 * Finds which of many literal strings occur in a text in one pass over it (an Aho–Corasick automaton, built once
 * into a dense transition table over the characters the strings use). The injection catalogs use it to learn
 * which rules' required strings (required-literals.ts) a text holds before running any of their regexes.
 */
export class LiteralScanner {
  /** code unit → column in the table; 0 for every character no string uses */
  private readonly columnOf = new Uint8Array(65536);
  private readonly columns: number;
  /** transitions[state * columns + column] → next state (a full DFA: failures already folded in) */
  private readonly transitions: Uint16Array | Uint32Array;
  /** the tags reported when the automaton enters a state (its own strings' and those of its suffixes) */
  private readonly outputs: (readonly number[] | undefined)[];

  /** `strings[i]` is reported as `tags[i]` (several strings may share a tag). */
  constructor(strings: readonly string[], tags: readonly number[]) {
    let columns = 1;
    for (const string of strings)
      for (let i = 0; i < string.length; i++) {
        const unit = string.charCodeAt(i);
        if (this.columnOf[unit] === 0) {
          if (columns === 256) throw new Error("LiteralScanner: more than 255 distinct characters");
          this.columnOf[unit] = columns++;
        }
      }
    this.columns = columns;

    // the trie, with sparse children while it is built
    const children: Map<number, number>[] = [new Map()];
    const ownTags: number[][] = [[]];
    strings.forEach((string, index) => {
      let state = 0;
      for (let i = 0; i < string.length; i++) {
        const column = this.columnOf[string.charCodeAt(i)]!;
        let next = children[state]!.get(column);
        if (next === undefined) {
          next = children.length;
          children.push(new Map());
          ownTags.push([]);
          children[state]!.set(column, next);
        }
        state = next;
      }
      ownTags[state]!.push(tags[index]!);
    });

    // breadth first: each state's failure is the longest proper suffix that is also a trie state
    // 16-bit states while they fit: the two injection catalogs' tables take ~270 KiB instead of ~540
    const transitions = new (children.length <= 0xffff ? Uint16Array : Uint32Array)(children.length * columns);
    const outputs: (number[] | undefined)[] = new Array(children.length);
    const failure = new Uint32Array(children.length);
    const queue: number[] = [];
    for (const [column, child] of children[0]!) {
      transitions[column] = child;
      queue.push(child);
    }
    outputs[0] = ownTags[0]!.length ? ownTags[0] : undefined;
    for (let head = 0; head < queue.length; head++) {
      const state = queue[head]!;
      const fallback = failure[state]!;
      const inherited = outputs[fallback];
      const own = ownTags[state]!;
      outputs[state] = own.length || inherited ? [...new Set([...own, ...(inherited ?? [])])] : undefined;
      for (let column = 0; column < columns; column++) {
        const child = children[state]!.get(column);
        if (child === undefined) transitions[state * columns + column] = transitions[fallback * columns + column]!;
        else {
          transitions[state * columns + column] = child;
          failure[child] = transitions[fallback * columns + column]!;
          queue.push(child);
        }
      }
    }
    this.transitions = transitions;
    this.outputs = outputs;
  }

  /** Sets `found[tag]` to 1 for every string that occurs in the text. */
  scan(text: string, found: Uint8Array): void {
    const { columnOf, columns, transitions, outputs } = this;
    let state = 0;
    for (let i = 0; i < text.length; i++) {
      state = transitions[state * columns + columnOf[text.charCodeAt(i)]!]!;
      const tags = outputs[state];
      if (tags) for (const tag of tags) found[tag] = 1;
    }
  }
}
