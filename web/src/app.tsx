import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import lazy, { ErrorBoundary } from 'preact-iso/lazy';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso/router';
import { api, ApiError, onSignedOut, setCsrfToken } from './api.ts';
import type { ConsoleSession, Me } from './api-shapes.ts';
import { Layout } from './components/layout.tsx';
import { Loading } from './components/ui.tsx';
import { live } from './live.ts';
import { AgentsPage } from './pages/agents-page.tsx';
import { ChatPage } from './pages/chat-page.tsx';
import { IntegrationsPage } from './pages/integrations-page.tsx';
import { KnowledgePage } from './pages/knowledge-page.tsx';
import { SessionsPage } from './pages/sessions-page.tsx';
import { SignInPage } from './pages/sign-in-page.tsx';
import { TriggersPage } from './pages/triggers-page.tsx';

// Settings carries the YAML editor: loaded when first opened, not with the console.
const SettingsPage = lazy(() => import('./pages/settings-page.tsx').then((module) => module.SettingsPage));

const UserContext = createContext<{ user: Me; setUser: (user: Me) => void } | undefined>(undefined);

/** The signed-in user, for pages that show or change the profile. */
export function useUser(): { user: Me; setUser: (user: Me) => void } {
  const value = useContext(UserContext);
  if (!value) throw new Error('useUser outside a signed-in console');
  return value;
}

type State = { kind: 'loading' } | { kind: 'signed-out' } | { kind: 'signed-in'; user: Me };

export function App() {
  const [state, setState] = useState<State>({ kind: 'loading' });

  const signedIn = (session: ConsoleSession) => {
    setCsrfToken(session.csrfToken);
    live.start();
    setState({ kind: 'signed-in', user: session.user });
  };

  useEffect(() => {
    const stop = onSignedOut(() => {
      live.stop();
      setCsrfToken(null);
      setState({ kind: 'signed-out' });
    });
    api('GET', '/v1/console/session').then(signedIn, () => setState({ kind: 'signed-out' }));
    return stop;
  }, []);

  // Signed out only when the server says so (or says the session was already over): a sign-out
  // that failed leaves the cookie valid, and the page must not pretend otherwise.
  const signOut = async () => {
    try {
      await api('POST', '/v1/console/sign-out');
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    }
    live.stop();
    setCsrfToken(null);
    setState({ kind: 'signed-out' });
  };

  if (state.kind === 'loading') return <Loading />;
  return (
    <LocationProvider>
      {state.kind === 'signed-out' ? (
        <SignInPage onSignedIn={signedIn} />
      ) : (
        <UserContext.Provider value={{ user: state.user, setUser: (user) => setState({ kind: 'signed-in', user }) }}>
          <Layout user={state.user} onSignOut={signOut}>
            <ErrorBoundary>
              <Router>
                <Route path="/agents" component={AgentsPage} />
                <Route path="/chat" component={ChatPage} />
                <Route path="/chat/:sessionId" component={ChatPage} />
                <Route path="/sessions" component={SessionsPage} />
                <Route path="/triggers" component={TriggersPage} />
                <Route path="/integrations" component={IntegrationsPage} />
                <Route path="/knowledge" component={KnowledgePage} />
                <Route path="/settings" component={SettingsPage} />
                <Route default component={Home} />
              </Router>
            </ErrorBoundary>
          </Layout>
        </UserContext.Provider>
      )}
    </LocationProvider>
  );
}

/** `/` and `/sign-in` lead to the gallery; any other path says it is not a page. */
function Home() {
  const { path, route } = useLocation();
  const home = path === '/' || path === '/sign-in';
  useEffect(() => {
    if (home) route('/agents', true);
  }, [home]);
  if (home) return null;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page at this address. <a href="/agents">Go to the agents</a>.
      </p>
    </section>
  );
}
