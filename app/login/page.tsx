import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { LoginForm } from "@/components/login-form";
import { Card } from "@/components/ui/card";
import { getCurrentSession } from "@/lib/auth/current-session";

export const dynamic = "force-dynamic";

export const metadata: Metadata = { title: "Log in · Mailbox integration" };

export default async function LoginPage() {
  // Someone already logged in has nothing to do here.
  if (await getCurrentSession()) redirect("/settings/email");
  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <Card className="w-full max-w-[380px] p-6">
        <h1 className="mb-2 text-[22px] sm:text-[26px]">Log in</h1>
        <p className="mb-4 text-muted-foreground">Manage your booking and stop-sale mailboxes.</p>
        <LoginForm />
      </Card>
    </main>
  );
}
