import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { LoginForm } from "@/components/login-form";
import { getCurrentSession } from "@/lib/auth/current-session";

export const dynamic = "force-dynamic";

export const metadata: Metadata = { title: "Log in · Mailbox integration" };

export default async function LoginPage() {
  // Someone already logged in has nothing to do here.
  if (await getCurrentSession()) redirect("/settings/email");
  return (
    <main className="page-centered">
      <div className="card card-narrow">
        <h1>Log in</h1>
        <p className="muted">Manage your booking and stop-sale mailboxes.</p>
        <LoginForm />
      </div>
    </main>
  );
}
