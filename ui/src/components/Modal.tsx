// A dialog over the page: closes on Escape or a click beside it, and keeps its keys from the
// editor's shortcuts underneath.
import type { ReactNode } from "react";

interface Props {
  label: string;
  className?: string;
  testId?: string;
  onClose: () => void;
  children: ReactNode;
}

export function Modal({ label, className, testId, onClose, children }: Props) {
  return (
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div
        className={className ? `dialog ${className}` : "dialog"}
        role="dialog"
        aria-label={label}
        data-testid={testId}
        onKeyDown={(e) => {
          if (e.key === "Escape") onClose();
          e.stopPropagation();
        }}
      >
        {children}
      </div>
    </div>
  );
}
