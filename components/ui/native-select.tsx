import { ChevronDown } from "lucide-react";
import type { ComponentProps, ReactElement } from "react";
import { cn } from "./cn";
import { controlClass } from "./input";

/**
 * A styled native <select>. Chosen over a Radix listbox for the settings form: phones show their own
 * picker, react-hook-form registers it like any input, and form autofill and keyboard search work.
 */
export function NativeSelect({ className, children, ...props }: ComponentProps<"select">): ReactElement {
  return (
    <span className="relative block min-w-0">
      <select data-slot="native-select" className={cn(controlClass, "cursor-pointer appearance-none pr-8", className)} {...props}>
        {children}
      </select>
      <ChevronDown aria-hidden="true" className="pointer-events-none absolute top-1/2 right-2.5 size-4 -translate-y-1/2 text-muted-foreground" />
    </span>
  );
}

/** The <option>s of a NativeSelect for a fixed list of values, each shown by its label. */
export function NativeSelectOptions<T extends string>({ values, labels }: { values: readonly T[]; labels: Record<T, string> }): ReactElement {
  return (
    <>
      {values.map((v) => (
        <option key={v} value={v}>
          {labels[v]}
        </option>
      ))}
    </>
  );
}
