"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import type { ReactElement } from "react";
import { useForm } from "react-hook-form";
import { loginSchema, type LoginInput } from "@/lib/auth/login-schema";
import { Alert } from "./ui/alert";
import { PendingButton } from "./ui/button";
import { InputField } from "./ui/form-field";

type ErrorResponse = { error?: { code?: string; message?: string; details?: { fields?: Record<string, string> } } };

const AFTER_LOGIN = "/settings/email";

export function LoginForm(): ReactElement {
  const {
    register,
    handleSubmit,
    setError,
    formState: { errors, isSubmitting },
  } = useForm<LoginInput>({ resolver: zodResolver(loginSchema), defaultValues: { email: "", password: "" } });

  const onSubmit = handleSubmit(async (values) => {
    let res: Response;
    try {
      res = await fetch("/api/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(values),
      });
    } catch {
      setError("root.server", { message: "Could not reach the server. Check your connection and try again." });
      return;
    }
    if (res.ok) {
      // A full navigation, so the next page is rendered with the new session cookie.
      window.location.assign(AFTER_LOGIN);
      return;
    }
    const body = (await res.json().catch(() => ({}))) as ErrorResponse;
    const fields = body.error?.details?.fields ?? {};
    for (const name of ["email", "password"] as const) {
      const message = fields[name];
      if (message) setError(name, { message });
    }
    setError("root.server", { message: body.error?.message ?? "Login failed. Please try again." });
  });

  return (
    <form className="flex flex-col gap-4" onSubmit={onSubmit} noValidate>
      {errors.root?.server?.message ? (
        <Alert tone="error" role="alert">
          {errors.root.server.message}
        </Alert>
      ) : null}
      <InputField id="login-email" label="Email" error={errors.email?.message} type="email" autoComplete="username" autoFocus {...register("email")} />
      <InputField id="login-password" label="Password" error={errors.password?.message} type="password" autoComplete="current-password" {...register("password")} />
      <PendingButton variant="default" type="submit" pending={isSubmitting} pendingLabel="Logging in…">
        Log in
      </PendingButton>
    </form>
  );
}
