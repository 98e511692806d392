// Hash routes (#/worklist, #/cases/<id>...): the backend serves index.html only at `/`, so deep links
// work without a server-side fallback.
import { createHashRouter, Navigate, Outlet, RouterProvider, useLocation } from "react-router";
import { AuthProvider, useAuth } from "./auth/AuthContext";
import { Layout } from "./components/Layout";
import { ErrorState, Loading } from "./components/States";
import { CaseView } from "./pages/CaseView";
import { LearningQueue } from "./pages/LearningQueue";
import { Models } from "./pages/Models";
import { NotFound } from "./pages/NotFound";
import { SignIn } from "./pages/SignIn";
import { Upload } from "./pages/Upload";
import { Worklist } from "./pages/Worklist";

function RequireUser() {
  const { user, error } = useAuth();
  const location = useLocation();
  if (user === undefined) return <Loading what="your session" />;
  if (user === null) {
    if (error) return <ErrorState error={error} what="your session" onRetry={() => window.location.reload()} />;
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  }
  return <Outlet />;
}

function RequireAdmin() {
  const { isAdmin } = useAuth();
  if (!isAdmin) {
    return (
      <div className="page">
        <h1>Models</h1>
        <p className="state state-error" role="alert">
          This screen is for administrators. <code className="error-code">forbidden</code>
        </p>
      </div>
    );
  }
  return <Outlet />;
}

const router = createHashRouter([
  { path: "/login", element: <SignIn /> },
  {
    element: <RequireUser />,
    // Shown while a lazily loaded screen's code arrives on a first visit straight to its address.
    hydrateFallbackElement: <Loading what="the screen" />,
    children: [
      {
        element: <Layout />,
        children: [
          { index: true, element: <Navigate to="/worklist" replace /> },
          { path: "worklist", element: <Worklist /> },
          { path: "learn", element: <LearningQueue /> },
          { path: "upload", element: <Upload /> },
          { path: "cases/:predictionId", element: <CaseView /> },
          // The Trust screen and its charting library load on first visit, not with the app.
          { path: "trust", lazy: async () => ({ Component: (await import("./pages/Trust")).Trust }) },
          { element: <RequireAdmin />, children: [{ path: "models", element: <Models /> }] },
          { path: "*", element: <NotFound /> },
        ],
      },
    ],
  },
]);

export function App() {
  return (
    <AuthProvider>
      <RouterProvider router={router} />
    </AuthProvider>
  );
}
