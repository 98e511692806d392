// Previous / next page buttons under a paged list, with the range shown ("21–40 of 57").
export function Pager({
  offset,
  pageSize,
  total,
  onOffset,
}: {
  offset: number;
  pageSize: number;
  total: number;
  onOffset: (offset: number) => void;
}) {
  if (total <= pageSize) return null;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" className="button" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - pageSize))}>
        Previous page
      </button>
      <span className="muted">
        {offset + 1}–{Math.min(offset + pageSize, total)} of {total}
      </span>
      <button type="button" className="button" disabled={offset + pageSize >= total} onClick={() => onOffset(offset + pageSize)}>
        Next page
      </button>
    </nav>
  );
}
