// Sign-in, sign-out and the current session (POST /auth/login, POST /auth/logout, GET /auth/me),
// through the generated client.
import { ApiError, api, setCsrfToken, unwrap, type Schemas } from "../api/client";

export type AuthSession = Schemas["SessionPublic"];
export type SessionUser = Schemas["UserPublic"];

function remember(session: AuthSession): AuthSession {
  setCsrfToken(session.csrf_token);
  return session;
}

export async function login(username: string, password: string): Promise<AuthSession> {
  return remember(await unwrap(api.POST("/api/v1/auth/login", { body: { username, password } })));
}

/** The current session, or null when signed out (401). */
export async function me(): Promise<AuthSession | null> {
  try {
    return remember(await unwrap(api.GET("/api/v1/auth/me")));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export async function logout(): Promise<void> {
  try {
    await unwrap(api.POST("/api/v1/auth/logout"));
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) throw error;
  } finally {
    setCsrfToken(null);
  }
}
