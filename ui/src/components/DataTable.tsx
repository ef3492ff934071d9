// One table for the pages' lists (alerts, rules, deliveries, schedules, breakers, metrics):
// columns say what a row shows; an empty list shows its message instead of a bare header.
import { Fragment, type ReactNode } from "react";

export interface Column<T> {
  /** The header; leave it out for a column of buttons. */
  header?: ReactNode;
  cell: (row: T) => ReactNode;
  className?: string | ((row: T) => string | undefined);
  title?: (row: T) => string | undefined;
  testId?: string;
}

interface Props<T> {
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  /** Shown instead of the table when there are no rows (nothing when left out). */
  empty?: ReactNode;
  className?: string;
  testId?: string;
  rowTestId?: string;
  /** A full-width row under a row (an expanded row's details), when it returns something. */
  detail?: (row: T) => ReactNode;
}

export function DataTable<T>({ rows, columns, rowKey, empty, className = "plain", testId, rowTestId, detail }: Props<T>) {
  if (rows.length === 0) return empty === undefined ? null : <div className="muted">{empty}</div>;
  const headed = columns.some((c) => c.header !== undefined);
  return (
    <table className={className} data-testid={testId}>
      {headed && (
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i}>{c.header ?? <span className="visually-hidden">Actions</span>}</th>
            ))}
          </tr>
        </thead>
      )}
      <tbody>
        {rows.map((row) => {
          const more = detail?.(row);
          return (
            <Fragment key={rowKey(row)}>
              <tr data-testid={rowTestId}>
                {columns.map((c, i) => (
                  <td key={i} className={typeof c.className === "function" ? c.className(row) : c.className} title={c.title?.(row)} data-testid={c.testId}>
                    {c.cell(row)}
                  </td>
                ))}
              </tr>
              {more != null && more !== false && (
                <tr>
                  <td colSpan={columns.length}>{more}</td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}
