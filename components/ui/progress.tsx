import type { ReactElement, ReactNode } from "react";

type ProgressNoticeProps = {
  /** What is happening, shown above the bar and read as the bar's name. */
  label: string;
  value: number;
  max: number;
  /** More words under the bar (a hint). */
  children?: ReactNode;
};

/**
 * A running job in words and a bar (first import, sync backlog) as a status region, so each new
 * count is announced politely; the native <progress> keeps its progressbar role.
 */
export function ProgressNotice({ label, value, max, children }: ProgressNoticeProps): ReactElement {
  return (
    <div role="status" aria-live="polite" data-slot="progress-notice" className="flex flex-col gap-1.5 rounded-md border border-info-border bg-info-soft p-3 text-sm font-medium text-info">
      <span>{label}</span>
      <progress
        className="h-2 w-full appearance-none overflow-hidden rounded-sm border-0 bg-info-track [&::-moz-progress-bar]:bg-info [&::-webkit-progress-bar]:bg-info-track [&::-webkit-progress-value]:bg-info [&::-webkit-progress-value]:transition-[width] [&::-webkit-progress-value]:duration-400 motion-reduce:[&::-webkit-progress-value]:transition-none"
        max={max}
        value={value}
        aria-label={label}
      />
      {children}
    </div>
  );
}
