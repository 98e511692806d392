// The administrator's changes to what serves a task, each confirmed in a dialog that states its scope
// (the task's default, or one site) and the metrics of the versions involved: promote, roll back (the
// default or one site), start training (for one site or every site).
import { useId, useState } from "react";
import type { ModelVersion, SiteServing, Task } from "../../api/client";
import { usePromote, useRollback, useStartTraining } from "../../api/queries";
import { ThresholdText } from "../../components/Badges";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { formatDate } from "../../components/States";
import { MetricsTable } from "./MetricsTable";

const DEFAULT_SCOPE = "default";
const NEW_SITE = "new-site";
const siteValue = (site: string) => `site:${site}`;

const byId = (versions: ModelVersion[], id: string | null | undefined) => versions.find((v) => v.id === id) ?? null;
const mono = (text: string) => <strong className="mono">{text}</strong>;

/** The sites that follow the task's default (no version of their own). */
function followers(task: Task): string[] {
  return task.sites.filter((site) => site.routing === "default").map((site) => site.site);
}

function Scope({ site }: { site: string | null }) {
  return (
    <p data-testid="change-scope">
      <strong>Scope:</strong> {site ? <>site {mono(site)} only; the default and the other sites are unchanged.</> : "the task's default."}
    </p>
  );
}

export function PromoteDialog({
  task,
  version,
  versions,
  onDone,
  onCancel,
}: {
  task: Task;
  version: ModelVersion;
  versions: ModelVersion[];
  onDone: (notice: string) => void;
  onCancel: () => void;
}) {
  const promote = usePromote(task.name);
  const ids = { scope: useId(), site: useId() };
  const [scope, setScope] = useState(() => {
    if (!version.is_default) return DEFAULT_SCOPE;
    const first = task.sites.find((site) => !version.serving_sites.includes(site.site));
    return first ? siteValue(first.site) : NEW_SITE;
  });
  const [newSite, setNewSite] = useState("");
  const site = scope.startsWith("site:") ? scope.slice("site:".length) : scope === NEW_SITE ? newSite.trim() : null;
  const serving: SiteServing | undefined = site ? task.sites.find((s) => s.site === site) : undefined;
  const defaultVersion = byId(versions, task.default_version);
  // What answers in this scope now, and is replaced.
  const replaced = site ? byId(versions, serving?.version ?? task.default_version) : defaultVersion;
  const already = site ? version.serving_sites.includes(site) : version.is_default;
  const others = followers(task);
  return (
    <ConfirmDialog
      title={`Promote ${version.id}?`}
      confirmLabel="Promote"
      askReason
      canConfirm={site !== "" && !already}
      busy={promote.isPending}
      error={promote.error}
      onCancel={onCancel}
      onConfirm={(reason) =>
        promote.mutate(
          { version: version.id, reason, site },
          { onSuccess: (promoted) => onDone(site ? `${promoted.id} now serves site ${site}.` : `${promoted.id} is now the active version.`) },
        )
      }
    >
      <div className="field">
        <label htmlFor={ids.scope}>Promote for</label>
        <select id={ids.scope} className="wide" value={scope} onChange={(e) => setScope(e.target.value)}>
          <option value={DEFAULT_SCOPE} disabled={version.is_default}>
            The task's default (every site without its own version)
          </option>
          <optgroup label="One site">
            {task.sites.map((s) => (
              <option key={s.site} value={siteValue(s.site)} disabled={version.serving_sites.includes(s.site)}>
                Site {s.site} (now {s.version}
                {s.routing === "default" ? ", the default" : ""})
              </option>
            ))}
            <option value={NEW_SITE}>A new site…</option>
          </optgroup>
        </select>
      </div>
      {scope === NEW_SITE && (
        <div className="field">
          <label htmlFor={ids.site}>New site's name</label>
          <input id={ids.site} value={newSite} onChange={(e) => setNewSite(e.target.value)} maxLength={128} required />
        </div>
      )}
      <Scope site={site || null} />
      {already ? (
        <p className="warn">{site ? `${version.id} already serves site ${site}.` : `${version.id} is already the task's default.`}</p>
      ) : site ? (
        <p>
          {mono(version.id)} will answer every new prediction from site {mono(site)}, in place of{" "}
          {replaced ? mono(replaced.id) : "the default"}
          {serving ? (
            <>
              , {serving.routing === "site" ? "the site's own version" : "the task's default"}, which serves it at{" "}
              <ThresholdText threshold={serving.operating_point.threshold} source={serving.operating_point.source} />
            </>
          ) : (
            ", the task's default (the site has sent no image yet)"
          )}
          . It serves at the threshold chosen for it on this site's cases, or its own until there are enough. Autonomy earned at{" "}
          {site} drops to supervised. This overrides the promotion gate.
        </p>
      ) : site === "" ? (
        <p className="muted">Name the site.</p>
      ) : (
        <p>
          {mono(version.id)} will answer every new prediction for {task.title} at the sites without a version of their own
          {others.length > 0 && <> ({others.join(", ")})</>} and without a site
          {defaultVersion ? (
            <>
              ; {mono(defaultVersion.id)} is retired (and can be rolled back to)
            </>
          ) : null}
          . Sites with their own version keep it. This overrides the promotion gate.
        </p>
      )}
      <MetricsTable versions={[version, ...(replaced && replaced.id !== version.id ? [replaced] : [])]} />
    </ConfirmDialog>
  );
}

/** The task's default goes back to the version it replaced. */
export function RollbackDialog({
  task,
  versions,
  onDone,
  onCancel,
}: {
  task: Task;
  versions: ModelVersion[];
  onDone: (notice: string) => void;
  onCancel: () => void;
}) {
  const rollback = useRollback(task.name);
  const { active, previous } = rollbackTarget(versions);
  const own = task.sites.filter((site) => site.routing === "site").map((site) => site.site);
  return (
    <ConfirmDialog
      title={`Roll back ${task.title}?`}
      confirmLabel="Roll back"
      askReason
      busy={rollback.isPending}
      error={rollback.error}
      onCancel={onCancel}
      onConfirm={(reason) =>
        rollback.mutate({ reason }, { onSuccess: (version) => onDone(`Rolled back: ${version.id} is the active version again.`) })
      }
    >
      <Scope site={null} />
      <p>
        The active version <strong className="mono">{active?.id ?? "–"}</strong> is retired and the version it replaced
        {previous ? (
          <>
            {" "}
            (<strong className="mono">{previous.id}</strong>)
          </>
        ) : null}{" "}
        answers again{own.length > 0 ? <>; sites with their own version ({own.join(", ")}) keep it</> : null}.
      </p>
      <MetricsTable versions={[...(active ? [active] : []), ...(previous ? [previous] : [])]} />
    </ConfirmDialog>
  );
}

/** The active version, and the one a rollback of the default returns to (the latest retired one). */
export function rollbackTarget(versions: ModelVersion[]) {
  const active = versions.find((v) => v.status === "active") ?? null;
  const previous =
    [...versions]
      .filter((v) => v.status === "retired" && v.activated_at)
      .sort((a, b) => (b.activated_at ?? "").localeCompare(a.activated_at ?? ""))[0] ?? null;
  return { active, previous };
}

/** One site goes back to the version its own was trained from, or to the task's default when that is
 * what it was trained from (the site then follows the default again). */
export function RollbackSiteDialog({
  task,
  site,
  versions,
  onDone,
  onCancel,
}: {
  task: Task;
  site: SiteServing;
  versions: ModelVersion[];
  onDone: (notice: string) => void;
  onCancel: () => void;
}) {
  const rollback = useRollback(task.name);
  const current = byId(versions, site.version);
  const parent = byId(versions, current?.parent);
  const toDefault = !parent || parent.status === "rejected" || parent.id === task.default_version;
  const target = toDefault ? byId(versions, task.default_version) : parent;
  return (
    <ConfirmDialog
      title={`Roll back site ${site.site}?`}
      confirmLabel="Roll back site"
      askReason
      busy={rollback.isPending}
      error={rollback.error}
      onCancel={onCancel}
      onConfirm={(reason) =>
        rollback.mutate(
          { reason, site: site.site },
          { onSuccess: (version) => onDone(`Site ${site.site} rolled back: ${version.id} serves it now.`) },
        )
      }
    >
      <Scope site={site.site} />
      <p>
        {mono(site.version)}, the site's own version
        {site.changed_at && (
          <>
            {" "}
            since {formatDate(site.changed_at)}
            {site.changed_by && <> (by {site.changed_by})</>}
          </>
        )}
        , stops serving {mono(site.site)}.{" "}
        {toDefault ? (
          <>
            The task's default {target ? mono(target.id) : null} answers there again, and the site follows the default from
            then on.
          </>
        ) : (
          <>The version it was trained from, {mono(target!.id)}, answers there again as the site's own version.</>
        )}{" "}
        Autonomy earned at {site.site} drops to supervised.
      </p>
      <MetricsTable versions={[...(current ? [current] : []), ...(target ? [target] : [])]} />
    </ConfirmDialog>
  );
}

/** Queues an adaptation job for one site (its verified cases, promoted for it when proven there) or for
 * the task's default on every site's cases. */
export function TrainDialog({
  task,
  versions,
  onDone,
  onCancel,
}: {
  task: Task;
  versions: ModelVersion[];
  onDone: (notice: string) => void;
  onCancel: () => void;
}) {
  const train = useStartTraining(task.name);
  const siteId = useId();
  const [site, setSite] = useState("");
  const serving = task.sites.find((s) => s.site === site);
  const start = byId(versions, serving ? serving.version : task.default_version);
  const startName = start?.id ?? serving?.version ?? task.default_version ?? "the active version";
  return (
    <ConfirmDialog
      title={`Start training ${task.title}?`}
      confirmLabel="Start training"
      busy={train.isPending}
      error={train.error}
      onCancel={onCancel}
      onConfirm={() =>
        train.mutate({ site: site || null }, { onSuccess: () => onDone(`Training job queued${site ? ` for site ${site}` : ""}; a worker picks it up.`) })
      }
    >
      <div className="field">
        <label htmlFor={siteId}>Adapt for</label>
        <select id={siteId} value={site} onChange={(e) => setSite(e.target.value)}>
          <option value="">Every site (the task's default)</option>
          {task.sites.map((s) => (
            <option key={s.site} value={s.site}>
              Site {s.site}
            </option>
          ))}
        </select>
      </div>
      {site ? (
        <p>
          A worker fine-tunes <span className="mono">{startName}</span> (serving {site} now) on the site's verified cases
          (with replay of its source data), then compares the candidate with it on the site's sequestered cases, paired by
          patient. The candidate serves {site} only if it is proven better there; it also becomes the task's default only if it
          is not worse on every other site with enough sequestered cases and on the source test set.
        </p>
      ) : (
        <p>
          A worker fine-tunes <span className="mono">{startName}</span> on the verified cases of every site (with replay of
          its source data), then compares the candidate with it on the sequestered cases and the source test set. The
          candidate becomes the default only if it is better on the first and not worse on the second.
        </p>
      )}
      {start && <MetricsTable versions={[start]} />}
    </ConfirmDialog>
  );
}
