import { NavLink, Outlet, useNavigate } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { AlertBanner } from "./AlertBanner";

export function Layout() {
  const { user, isAdmin, signOut } = useAuth();
  const navigate = useNavigate();
  return (
    <div className="app">
      <a className="skip-link" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Imaging AI</span>
        <nav aria-label="Main">
          <NavLink to="/worklist">Worklist</NavLink>
          <NavLink to="/learn">Teach the model</NavLink>
          <NavLink to="/upload">Upload</NavLink>
          <NavLink to="/trust">Trust</NavLink>
          {isAdmin && <NavLink to="/models">Models</NavLink>}
        </nav>
        {user && (
          <div className="user" data-testid="current-user">
            <span className="user-name">{user.display_name || user.username}</span>
            <span className="user-roles">{user.roles.join(", ") || user.kind}</span>
            <button
              type="button"
              className="button small"
              onClick={() => {
                void signOut().finally(() => navigate("/login"));
              }}
            >
              Sign out
            </button>
          </div>
        )}
      </header>
      {user && <AlertBanner canAcknowledge={user.roles.includes("clinician") || user.roles.includes("admin")} />}
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
