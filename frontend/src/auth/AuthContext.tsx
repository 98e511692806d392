import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, type ReactNode } from "react";
import { onUnauthenticated } from "../api/client";
import * as authApi from "./api";
import type { AuthSession, SessionUser } from "./api";

interface AuthState {
  /** undefined while the first /auth/me is in flight. */
  user: SessionUser | null | undefined;
  error: Error | null;
  signIn: (username: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
  isAdmin: boolean;
}

const AuthContext = createContext<AuthState | null>(null);
const ME_KEY = ["auth", "me"] as const;

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const me = useQuery({ queryKey: ME_KEY, queryFn: authApi.me, staleTime: 5 * 60_000, retry: 1 });

  useEffect(
    () =>
      onUnauthenticated(() => {
        queryClient.setQueryData<AuthSession | null>(ME_KEY, null);
      }),
    [queryClient],
  );

  const signIn = useCallback(
    async (username: string, password: string) => {
      const session = await authApi.login(username, password);
      queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== "auth" });
      queryClient.setQueryData(ME_KEY, session);
    },
    [queryClient],
  );

  const signOut = useCallback(async () => {
    try {
      await authApi.logout();
    } finally {
      // Signed out first (the guard redirects), then forget every cached answer of the old session.
      queryClient.setQueryData(ME_KEY, null);
      queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== "auth" });
    }
  }, [queryClient]);

  const value = useMemo<AuthState>(() => {
    const user = me.isPending ? undefined : (me.data?.user ?? null);
    return {
      user,
      error: me.error,
      signIn,
      signOut,
      isAdmin: Boolean(user?.roles.includes("admin")),
    };
  }, [me.isPending, me.data, me.error, signIn, signOut]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside AuthProvider");
  return state;
}
