/**
 * Publishing a price version. The operator must see the impact preview of exactly the inputs
 * being published: any edit after a preview withdraws it and disables Publish again.
 */
import { ApiError, api, type PublishPriceInput } from "./api.js";
import { h, replaceChildren, uid } from "./dom.js";
import { type Field, FormErrors, KEEPS_PREVIEW, banner, busy, field, fieldGroup, oneParagraph, openModal, type Session, whenChooser } from "./forms.js";
import { type ApiPrices, METERS, OUTCOMES, type PriceEntry, type PriceImpact, clashingVersion, rateLabel, runsOutSooner, signed, tokensLabel, formatTime } from "./model.js";
import { checkApiCode, checkDays, checkEffectiveFrom, checkName, checkNote, checkTokens, checkUnitQuantity } from "./validate.js";

export interface PublishOptions {
  /** Every API with a price, so a "new" API code that exists is caught. */
  readonly known: readonly ApiPrices[];
  /** Opens the version flow of an existing API instead (from the new-API dialog). */
  openVersionFlow(target: ApiPrices): void;
  /** An earlier version whose terms the form starts from (revert). */
  readonly template?: PriceEntry;
}

export function openPublishDialog(session: Session, target: ApiPrices | null, onPublished: (entry: PriceEntry) => void, options: PublishOptions): void {
  const template = options.template;
  const base = template ?? target?.current ?? target?.scheduled[target.scheduled.length - 1] ?? target?.history.find((v) => !v.retired) ?? null;

  const apiCode = h("input", { type: "text", autocomplete: "off", spellcheck: "false", value: target?.apiCode ?? "", readonly: target !== null });
  const name = h("input", { type: "text", autocomplete: "off", value: target?.name ?? "" });
  const meter = h("select", null, ...METERS.map((m) => h("option", { value: m, selected: (base?.meter ?? "JOB") === m }, m)));
  const unitQuantity = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", value: base ? String(base.unitQuantity) : "1" });
  const tokensPerUnit = h("input", { type: "text", inputmode: "decimal", autocomplete: "off", spellcheck: "false", value: template?.tokensPerUnit ?? "" });
  const outcomeBoxes = OUTCOMES.map((outcome) =>
    h("input", { type: "checkbox", value: outcome, id: uid(`outcome-${outcome}`), checked: (base?.chargeableOutcomes ?? ["SUCCEEDED"]).includes(outcome) }),
  );
  const when = whenChooser(
    "effectiveFrom",
    "Takes effect",
    "Now, when published",
    "billing changes immediately when I publish",
    "Never in the past. Usage is rated with the version in force when it occurred.",
  );
  const note = oneParagraph(h("textarea", { rows: 3 }));
  if (template) note.value = `Revert to version #${template.id} (${rateLabel(template)}).`;
  const days = h("input", { type: "text", inputmode: "numeric", value: "30", size: 4, autocomplete: "off" });

  const fields: Field[] = [
    field("apiCode", "API code", apiCode, target ? undefined : "Lower-case slug, such as design-automation/revit."),
    field("name", "Display name", name, "Optional; keeps the current name when left as it is."),
    field("meter", "Meter (what the quantity counts)", meter),
    field("unitQuantity", "Unit quantity", unitQuantity, "How many meter units the rate is for: 1 job, 3600 seconds, 50 photos."),
    field("tokensPerUnit", "Tokens per unit", tokensPerUnit, "Plain decimal, up to 6 digits after the dot, such as 0.5. 0 makes the API free."),
    fieldGroup(
      "chargeableOutcomes",
      "Charged outcomes",
      outcomeBoxes,
      [h("div", { class: "choices" }, ...outcomeBoxes.map((box) => h("label", { class: "choice", for: box.id }, box, ` ${box.value}`)))],
      "Usage with an outcome left unticked is recorded at zero tokens.",
    ),
    when.field,
    field("note", "Note (why the price changes)", note, "Required, up to 2000 characters, one paragraph. Shown in the price history."),
  ];
  const daysField = field("days", "Re-rate usage of the last (days)", days);
  const existing = () => (target ? null : (options.known.find((group) => group.apiCode === apiCode.value.trim()) ?? null));
  const versionOffer = h("div", { class: "version-offer" });
  fields[0]!.element.append(versionOffer);
  let offered: ApiPrices | null = null;
  const offerVersionFlow = () => {
    const group = existing();
    // The same offer stays the same button: rebuilt on blur, it would lose the click that caused the blur.
    if (group === offered) return;
    offered = group;
    if (!group) return versionOffer.replaceChildren();
    replaceChildren(
      versionOffer,
      h(
        "button",
        {
          type: "button",
          class: "secondary small",
          onclick: () => {
            modal.close();
            options.openVersionFlow(group);
          },
        },
        `Publish a new version of ${group.apiCode}…`,
      ),
    );
  };

  const formBanner = banner();
  const errors = new FormErrors([...fields, daysField], formBanner);

  const impactPanel = h("section", { class: "impact", "aria-live": "polite", "aria-label": "Impact preview" });
  const previewButton = h("button", { type: "submit", class: "secondary" }, "Preview impact");
  const publishButton = h("button", { type: "button", class: "primary", disabled: true }, "Publish version");
  /** What was previewed; impact is null when the usage was metered in other units and cannot be compared. */
  let previewed: { input: PublishPriceInput; impact: PriceImpact | null } | null = null;
  const unlikeConfirm = h("input", { type: "checkbox", id: uid("unlike-confirm"), [KEEPS_PREVIEW]: true });
  const publishable = () => previewed !== null && (previewed.impact !== null || unlikeConfirm.checked);
  unlikeConfirm.addEventListener("change", () => {
    publishButton.disabled = !publishable();
  });

  const showImpactHint = () => replaceChildren(impactPanel, h("p", { class: "muted" }, "Preview the impact to enable Publish."));
  showImpactHint();

  /** Reads the form; marks every field in error and returns null when any is. */
  const read = (): { input: PublishPriceInput; days: number } | null => {
    errors.clearAll();
    let valid = true;
    const check = <T>(name: string, result: { ok: true; value: T } | { ok: false; message: string }): T | undefined => {
      if (result.ok) return result.value;
      errors.set(name, result.message);
      valid = false;
      return undefined;
    };
    const code = check("apiCode", checkApiCode(apiCode.value));
    const known = existing();
    if (known) check("apiCode", { ok: false, message: alreadyPriced(known) });
    const displayName = check("name", checkName(name.value));
    const quantity = check("unitQuantity", checkUnitQuantity(unitQuantity.value.trim()));
    const rate = check("tokensPerUnit", checkTokens(tokensPerUnit.value.trim()));
    const from = when.later() ? check("effectiveFrom", checkEffectiveFrom(when.input.value, Date.now())) : undefined;
    const clash = from && target ? clashingVersion(target, from) : null;
    if (clash) check("effectiveFrom", { ok: false, message: `Version #${clash.id} (${rateLabel(clash)}) already takes effect at ${formatTime(clash.effectiveFrom)}: cancel it first, or choose another time.` });
    const text = check("note", checkNote(note.value));
    const span = check("days", checkDays(days.value.trim()));
    if (!valid || code === undefined || quantity === undefined || rate === undefined || text === undefined || span === undefined) {
      errors.focusFirstInvalid();
      return null;
    }
    const input: PublishPriceInput = {
      apiCode: code,
      meter: meter.value,
      unitQuantity: quantity,
      tokensPerUnit: rate,
      chargeableOutcomes: outcomeBoxes.filter((box) => box.checked).map((box) => box.value),
      note: text,
    };
    // An unchanged name is left out so the server keeps the one on record.
    if (displayName && displayName !== target?.name) input.name = displayName;
    if (from) input.effectiveFrom = from;
    return { input, days: span };
  };

  const withdrawPreview = () => {
    if (previewed === null) return;
    previewed = null;
    publishButton.disabled = true;
    showImpactHint();
  };

  const form = h(
    "form",
    { class: "publish-form", novalidate: true },
    formBanner,
    h("div", { class: "form-grid" }, ...fields.map((f) => f.element)),
    h("div", { class: "preview-bar" }, daysField.element, previewButton),
    impactPanel,
    h("div", { class: "dialog-actions" }, publishButton, h("button", { type: "button", class: "ghost", onclick: () => modal.requestClose() }, "Close")),
  );

  errors.checkWhileEditing([
    [apiCode, "apiCode", () => (existing() ? { ok: false, message: alreadyPriced(existing()!) } : checkApiCode(apiCode.value))],
    [name, "name", () => checkName(name.value)],
    [unitQuantity, "unitQuantity", () => checkUnitQuantity(unitQuantity.value.trim())],
    [tokensPerUnit, "tokensPerUnit", () => checkTokens(tokensPerUnit.value.trim())],
    [when.input, "effectiveFrom", () => (when.later() ? checkEffectiveFrom(when.input.value, Date.now()) : { ok: true })],
    [note, "note", () => checkNote(note.value)],
    [days, "days", () => checkDays(days.value.trim())],
  ]);
  when.confirmNow.addEventListener("change", () => errors.clear("effectiveFrom"));
  apiCode.addEventListener("input", offerVersionFlow);
  apiCode.addEventListener("blur", offerVersionFlow);
  const onEdit = (event: Event) => {
    if (!(event.target instanceof Element && event.target.hasAttribute(KEEPS_PREVIEW))) withdrawPreview();
  };
  form.addEventListener("input", onEdit);
  form.addEventListener("change", onEdit);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = read();
    if (!values) return offerVersionFlow();
    void busy(previewButton, "Previewing…", async () => {
      replaceChildren(impactPanel, h("p", { class: "muted", role: "status" }, "Re-rating recent usage…"));
      try {
        const impact = await api.previewPriceChange(session.key, values.input, values.days);
        previewed = { input: values.input, impact };
        renderImpact(impactPanel, impact, values.input);
        publishButton.disabled = false;
      } catch (error) {
        if (session.expireIfUnauthenticated(error)) return;
        const unlike = unlikeUnits(error);
        if (unlike === null) {
          showImpactHint();
          return errors.showServer(error);
        }
        // The server refuses to compare usage metered in other units (APS re-rated Reality
        // Capture from gigapixels to photos in 2022): such a change is published knowingly.
        previewed = { input: values.input, impact: null };
        unlikeConfirm.checked = false;
        replaceChildren(
          impactPanel,
          h("h3", null, "The impact cannot be compared"),
          h("p", null, `${unlike} Usage in one unit cannot be compared with a rate in another, so no figures are shown.`),
          h("label", { class: "choice confirm-unlike", for: unlikeConfirm.id }, unlikeConfirm, " Publish without a comparison: I have checked the new meter and unit quantity."),
        );
        publishButton.disabled = true;
      }
    });
  });

  publishButton.addEventListener("click", () => {
    const values = read();
    if (!values || !previewed || JSON.stringify(values.input) !== JSON.stringify(previewed.input)) {
      withdrawPreview();
      return;
    }
    if (!publishable()) return;
    if (!when.later() && !when.nowConfirmed()) {
      errors.set("effectiveFrom", "Publishing now means billing changes immediately: tick the box to confirm, or choose a later time.");
      when.confirmNow.focus();
      return;
    }
    const input = previewed.input;
    void busy(publishButton, "Publishing…", async () => {
      try {
        const entry = await api.publishPrice(session.key, input);
        modal.close();
        onPublished(entry);
      } catch (error) {
        if (session.expireIfUnauthenticated(error)) return;
        errors.showServer(readableClash(error));
      }
    }).finally(() => {
      publishButton.disabled = !publishable();
    });
  });

  const modal = openModal(
    target ? `Publish a new version of ${target.apiCode}` : "Publish a price for a new API",
    () => [
      target?.current ? h("p", { class: "muted" }, `In force now: ${rateLabel(target.current)} since ${formatTime(target.current.effectiveFrom)}.`) : null,
      target && target.scheduled.length > 0
        ? h(
            "div",
            { class: "scheduled-now" },
            h("p", null, "Already scheduled:"),
            h("ul", { class: "plain" }, ...target.scheduled.map((v) => h("li", null, `#${v.id}: ${rateLabel(v)} from ${formatTime(v.effectiveFrom)}`))),
          )
        : null,
      form,
    ],
    { wide: true },
  );
  (target ? tokensPerUnit : apiCode).focus();
}

/**
 * The server's clash refusal ("version 19 of … already takes effect at 2026-03-01T00:00:00.000Z;
 * cancel it first") in the console's words and time format; any other error as it is.
 */
function readableClash(error: unknown): unknown {
  if (!(error instanceof ApiError)) return error;
  return new ApiError(
    error.problems.map((problem) => {
      const clash = /^version (\d+) of \S+ already takes effect at (\S+); cancel it first$/.exec(problem.message);
      return clash ? { ...problem, message: `Version #${clash[1]} already takes effect at ${formatTime(clash[2])}: cancel it first, or choose another time.` } : problem;
    }),
  );
}

const alreadyPriced = (group: ApiPrices) => `${group.apiCode} already has a price. Publish a new version of it instead.`;

/** The server's message when recent usage was metered in other units than the proposal, else null. */
function unlikeUnits(error: unknown): string | null {
  const problem = error instanceof ApiError ? error.problems[0] : undefined;
  return problem?.code === "BAD_USER_INPUT" && problem.field === "input.meter" ? `${problem.message[0]?.toUpperCase()}${problem.message.slice(1)}.` : null;
}

function renderImpact(panel: HTMLElement, impact: PriceImpact, input: PublishPriceInput): void {
  const delta = signed(impact.deltaTokens);
  const direction = impact.deltaTokens.startsWith("-") ? "less" : delta === impact.deltaTokens ? "no change" : "more";
  replaceChildren(
    panel,
    h("h3", null, `Impact over the last ${impact.days} days`),
    h(
      "dl",
      { class: "impact-figures" },
      h("div", null, h("dt", null, "Usage events re-rated"), h("dd", { "data-impact": "events" }, String(impact.events))),
      h("div", null, h("dt", null, "Of which free at the new price"), h("dd", { "data-impact": "zero" }, String(impact.zeroChargeEvents))),
      h("div", null, h("dt", null, "Tokens at current prices"), h("dd", { "data-impact": "current" }, impact.currentTokens)),
      h("div", null, h("dt", null, `Tokens at ${input.tokensPerUnit} per ${input.unitQuantity} ${input.meter}`), h("dd", { "data-impact": "proposed" }, impact.proposedTokens)),
      h("div", { class: `delta ${direction === "more" ? "up" : direction === "less" ? "down" : ""}` }, h("dt", null, "Difference"), h("dd", { "data-impact": "delta" }, `${delta} ${direction === "no change" ? "(no change)" : ""}`.trim())),
    ),
    h(
      "p",
      { class: "muted" },
      impact.events === 0
        ? "No usage of this API in that period: the preview has nothing to re-rate."
        : `What the same recent usage would cost under the proposal: ${tokensLabel(impact.proposedTokens)} instead of ${tokensLabel(impact.currentTokens)}. Past charges never change.`,
    ),
    impact.accounts.length > 0 ? whoPays(impact) : null,
  );
}

/** The accounts behind the figures, and whose balance would run out sooner at the new price. */
function whoPays(impact: PriceImpact): HTMLElement {
  const sooner = impact.accounts.filter(runsOutSooner).length;
  return h(
    "div",
    { class: "who-pays" },
    h("h4", null, "Who pays"),
    h(
      "p",
      { class: "muted", "data-impact": "sooner" },
      `${sooner} of ${impact.accountCount} ${impact.accountCount === 1 ? "account" : "accounts"} would run out of tokens sooner at the new price (burn rate of the last 30 days, with this change from its effective date).`,
      impact.accountCount > impact.accounts.length ? ` The ${impact.accounts.length} most affected are listed.` : "",
    ),
    h(
      "div",
      { class: "table-scroll", tabindex: 0, role: "region", "aria-label": "Affected accounts" },
      h(
        "table",
        { class: "data compact" },
        h("caption", { class: "sr-only" }, "Affected accounts, largest increase first"),
        h("thead", null, h("tr", null, ...["Account", "Events", "Now", "Proposed", "Change", "Runs out"].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          null,
          ...impact.accounts.map((a) =>
            h(
              "tr",
              { "data-account-id": a.account.id, class: runsOutSooner(a) ? "sooner" : null },
              h("th", { scope: "row", "data-label": "Account" }, a.account.name, h("span", { class: "muted" }, ` #${a.account.id} · ${a.account.status}`)),
              h("td", { "data-label": "Events" }, String(a.events), a.zeroChargeEvents > 0 ? h("span", { class: "muted" }, ` (${a.zeroChargeEvents} free)`) : null),
              h("td", { "data-label": "Now" }, a.currentTokens),
              h("td", { "data-label": "Proposed" }, a.proposedTokens),
              h("td", { "data-label": "Change" }, `${signed(a.deltaTokens)}${a.changePercent === null ? "" : ` (${signed(a.changePercent)} %)`}`),
              h(
                "td",
                { "data-label": "Runs out", class: "time" },
                runsOutSooner(a) ? h("span", { class: "badge retired" }, "Sooner") : null,
                runsOutSooner(a)
                  ? ` ${formatTime(a.proposedDepletesAt)} instead of ${a.depletesAt ? formatTime(a.depletesAt) : "never"}`
                  : a.depletesAt
                    ? formatTime(a.depletesAt)
                    : "Not at this rate",
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
