import type { ComponentProps, ReactElement } from "react";

type ActionFormProps = Omit<ComponentProps<"form">, "onSubmit"> & {
  /** What Enter or the submit button runs; the page never reloads. */
  onAction: () => unknown;
};

/**
 * A form whose submit runs an action in the page. The browser's own validation bubbles are off
 * (noValidate): every field shows the server's or the schema's message through FormField instead.
 */
export function ActionForm({ onAction, ...props }: ActionFormProps): ReactElement {
  return (
    <form
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        void onAction();
      }}
      {...props}
    />
  );
}
