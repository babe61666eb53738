"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { useForm } from "react-hook-form";
import { loginSchema, type LoginInput } from "@/lib/auth/login-schema";

type ErrorResponse = { error?: { code?: string; message?: string; details?: { fields?: Record<string, string> } } };

const AFTER_LOGIN = "/settings/email";

export function LoginForm() {
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
    <form className="form" onSubmit={onSubmit} noValidate>
      {errors.root?.server?.message ? (
        <div className="alert alert-error" role="alert">
          {errors.root.server.message}
        </div>
      ) : null}
      <div className="field">
        <label htmlFor="login-email">Email</label>
        <input
          id="login-email"
          className="input"
          type="email"
          autoComplete="username"
          autoFocus
          aria-invalid={errors.email ? "true" : "false"}
          aria-describedby={errors.email ? "login-email-error" : undefined}
          {...register("email")}
        />
        {errors.email?.message ? (
          <span id="login-email-error" className="field-error">
            {errors.email.message}
          </span>
        ) : null}
      </div>
      <div className="field">
        <label htmlFor="login-password">Password</label>
        <input
          id="login-password"
          className="input"
          type="password"
          autoComplete="current-password"
          aria-invalid={errors.password ? "true" : "false"}
          aria-describedby={errors.password ? "login-password-error" : undefined}
          {...register("password")}
        />
        {errors.password?.message ? (
          <span id="login-password-error" className="field-error">
            {errors.password.message}
          </span>
        ) : null}
      </div>
      <button className="button button-primary" type="submit" disabled={isSubmitting}>
        {isSubmitting ? "Logging in…" : "Log in"}
      </button>
    </form>
  );
}
