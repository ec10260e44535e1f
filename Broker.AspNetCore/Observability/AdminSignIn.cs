namespace Broker.AspNetCore.Observability;

/// <summary>
/// What <c>GET /admin</c> answers without credentials (401) or with a token that lacks the scope
/// (403): a sign-in page, not the console. The operator enters the API key or a JWT with scope
/// <c>broker:admin</c>; the page keeps it in <c>sessionStorage</c> (this tab only), asks for
/// <c>/admin</c> again with it and shows the console it gets back. Nothing of the console's data
/// is in this page.
/// </summary>
internal static class AdminSignIn
{
    /// <summary>
    /// The credential the console's requests carry: an API key as <c>X-Api-Key</c>, a JWT (three
    /// dot-separated parts) as a bearer token. A <c>var</c>: the console is written into the sign-in
    /// page's document, whose global scope it shares, and runs this again.
    /// </summary>
    public const string CredentialsScript = """
var AdminCredentials = {
  save(value) { sessionStorage.setItem('brokerAdminCredential', value.trim()); },
  headers() {
    const value = sessionStorage.getItem('brokerAdminCredential');
    if (!value) return {};
    return value.split('.').length === 3 ? { Authorization: 'Bearer ' + value } : { 'X-Api-Key': value };
  },
};
""";

    public static string Html(int status) => $$"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Broker admin: sign in</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 2rem; color: #222; }
  input { width: 28rem; }
  #why { color: #a00; margin-top: .8rem; }
</style>
</head>
<body>
<h1>Broker admin</h1>
<p>{{(status == 403 ? "This token does not have the <code>broker:admin</code> scope." : "Sign in with the broker's API key or a JWT with scope <code>broker:admin</code>.")}}</p>
<form id="signin"><input id="credential" type="password" autocomplete="off" placeholder="API key or JWT" autofocus> <button>sign in</button></form>
<div id="why"></div>
<script>
{{CredentialsScript}}
async function load() {
  const r = await fetch('/admin', { headers: AdminCredentials.headers(), cache: 'no-store' });
  if (r.ok) { document.open(); document.write(await r.text()); document.close(); return; }
  document.getElementById('why').textContent = r.status === 403 ? 'that token lacks the broker:admin scope' : 'not accepted';
}
document.getElementById('signin').onsubmit = e => { e.preventDefault(); AdminCredentials.save(document.getElementById('credential').value); load(); };
if (sessionStorage.getItem('brokerAdminCredential')) load();
</script>
</body>
</html>
""";
}
