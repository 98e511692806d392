import { Link } from "react-router";

export function NotFound() {
  return (
    <div className="page">
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. Go to the <Link to="/worklist">worklist</Link>.
      </p>
    </div>
  );
}
