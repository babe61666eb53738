"use client";

import { Slot } from "@radix-ui/react-slot";
import { createContext, useContext, type ComponentProps, type ReactElement, type ReactNode } from "react";
import { cn } from "./cn";
import { Input } from "./input";
import { Label } from "./label";
import { NativeSelect, NativeSelectOptions } from "./native-select";

type FieldContext = { id: string; hintId: string | undefined; errorId: string | undefined };

const FormFieldContext = createContext<FieldContext | null>(null);

type FormFieldProps = {
  /** The control's id; the hint and error get `${id}-hint` / `${id}-error`. */
  id: string;
  label: ReactNode;
  hint?: ReactNode;
  error?: string | null;
  className?: string;
  /** The control, wrapped in <FormControl> (it may sit inside other markup, e.g. beside a button). */
  children: ReactNode;
};

/**
 * A label, a control, an optional hint and an error message, wired once: the control gets the id,
 * aria-describedby (hint, then error) and aria-invalid from <FormControl>, so no form spells them out.
 */
export function FormField({ id, label, hint, error, className, children }: FormFieldProps): ReactElement {
  const ctx: FieldContext = {
    id,
    hintId: hint ? `${id}-hint` : undefined,
    errorId: error ? `${id}-error` : undefined,
  };
  return (
    <FormFieldContext.Provider value={ctx}>
      <div data-slot="form-field" className={cn("flex min-w-0 flex-col gap-1", className)}>
        <Label htmlFor={id}>{label}</Label>
        {children}
        {hint ? (
          <span id={ctx.hintId} className="text-caption text-muted-foreground">
            {hint}
          </span>
        ) : null}
        {error ? (
          <span id={ctx.errorId} className="text-caption font-medium text-destructive">
            {error}
          </span>
        ) : null}
      </div>
    </FormFieldContext.Provider>
  );
}

/** Puts the field's id and aria attributes on its one child (an Input, a NativeSelect, ...). */
export function FormControl(props: ComponentProps<typeof Slot>): ReactElement {
  const ctx = useContext(FormFieldContext);
  if (!ctx) throw new Error("FormControl must be inside a FormField");
  const describedBy = [ctx.hintId, ctx.errorId].filter(Boolean).join(" ") || undefined;
  return <Slot id={ctx.id} aria-describedby={describedBy} aria-invalid={ctx.errorId ? true : false} {...props} />;
}

/** The frame of one field (FormField's own props): the rest of a *Field's props go to its control. */
type FieldFrameProps = { id: string; label: ReactNode; hint?: ReactNode; error?: string | null; className?: string };

type InputFieldProps = FieldFrameProps & Omit<ComponentProps<"input">, "id" | "className"> & { inputClassName?: string };

/** A FormField whose control is one Input: `className` sizes the field, `inputClassName` the box. */
export function InputField({ id, label, hint, error, className, inputClassName, ...input }: InputFieldProps): ReactElement {
  return (
    <FormField id={id} label={label} hint={hint} error={error} className={className}>
      <FormControl>
        <Input className={inputClassName} {...input} />
      </FormControl>
    </FormField>
  );
}

type SelectFieldProps<T extends string> = FieldFrameProps &
  Omit<ComponentProps<"select">, "id" | "className" | "children"> & { values: readonly T[]; labels: Record<T, string> };

/** A FormField whose control is a NativeSelect of a fixed list of values, each shown by its label. */
export function SelectField<T extends string>({ id, label, hint, error, className, values, labels, ...select }: SelectFieldProps<T>): ReactElement {
  return (
    <FormField id={id} label={label} hint={hint} error={error} className={className}>
      <FormControl>
        <NativeSelect {...select}>
          <NativeSelectOptions values={values} labels={labels} />
        </NativeSelect>
      </FormControl>
    </FormField>
  );
}
