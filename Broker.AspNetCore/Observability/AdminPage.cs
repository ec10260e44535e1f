namespace Broker.AspNetCore.Observability;

/// <summary>The one-screen live view served at <c>GET /admin</c>; it polls <c>/admin/stats</c> every second.</summary>
internal static class AdminPage
{
    public static readonly string Html = """
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Broker admin</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 2rem; color: #222; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .8rem; }
  .tile { border: 1px solid #ddd; border-radius: 6px; padding: .7rem .9rem; }
  .tile b { display: block; font-size: 1.6rem; }
  .tile span { color: #666; font-size: .85rem; }
  table { border-collapse: collapse; margin-top: 1rem; }
  td, th { padding: .2rem .8rem; border-bottom: 1px solid #eee; text-align: left; }
  #status { color: #666; margin-top: 1rem; font-size: .85rem; }
  #key { display: none; margin-top: 1rem; }
</style>
</head>
<body>
<h1>Broker <span id="node"></span> <span id="ready"></span></h1>
<div class="grid">
  <div class="tile"><b id="connections">–</b><span>connections</span></div>
  <div class="tile"><b id="authenticated">–</b><span>authenticated</span></div>
  <div class="tile"><b id="rooms">–</b><span>rooms active</span></div>
  <div class="tile"><b id="publishes">–</b><span>publishes/s</span></div>
  <div class="tile"><b id="deliveries">–</b><span>deliveries/s</span></div>
  <div class="tile"><b id="framesIn">–</b><span>frames in/s</span></div>
  <div class="tile"><b id="framesOut">–</b><span>frames out/s</span></div>
  <div class="tile"><b id="members">–</b><span>cluster members (unreachable)</span></div>
</div>
<table><thead><tr><th>route</th><th>connections</th></tr></thead><tbody id="routes"></tbody></table>
<div id="key">API key: <input id="apikey" type="password" size="30"> <button id="save">use</button></div>
<div id="status"></div>
<script>
""" + AdminSignIn.CredentialsScript + """
const $ = id => document.getElementById(id);
$('save').onclick = () => { AdminCredentials.save($('apikey').value); $('key').style.display = 'none'; };
async function poll() {
  try {
    const r = await fetch('/admin/stats', { headers: AdminCredentials.headers() });
    if (r.status === 401 || r.status === 403) { $('key').style.display = 'block'; $('status').textContent = 'credentials required'; return; }
    const s = await r.json();
    $('node').textContent = s.node;
    $('ready').textContent = s.ready ? '(ready)' : '(not ready)';
    $('connections').textContent = s.connections;
    $('authenticated').textContent = s.authenticated;
    $('rooms').textContent = s.roomsActive;
    $('publishes').textContent = s.publishesPerSecond;
    $('deliveries').textContent = s.deliveriesPerSecond;
    $('framesIn').textContent = s.framesInPerSecond;
    $('framesOut').textContent = s.framesOutPerSecond;
    $('members').textContent = s.clusterMembers + ' (' + s.clusterUnreachable + ')';
    const rows = Object.entries(s.byRoute).sort().map(([k, v]) => {
      const tr = document.createElement('tr');
      for (const text of [k, v]) { const td = document.createElement('td'); td.textContent = text; tr.appendChild(td); }
      return tr;
    });
    $('routes').replaceChildren(...rows);
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    $('status').textContent = 'unreachable: ' + e;
  }
}
poll();
setInterval(poll, 1000);
</script>
</body>
</html>
""";
}
