-- Argo CD health check for the redis-ha API: redisha.io/RedisHA (namespaced XR),
-- redisha.io/XRedisHA (legacy cluster XR) and redisha.io/RedisHAClaim (its claim). All three
-- carry the same conditions, so one script serves them; examples/gitops generates the
-- argocd-cm keys from this file. Edit here, then run `make examples-generate`.
--
-- Argo CD runs custom health scripts with only the base, table and package libraries (and a
-- safe os), unless useOpenLibs is set: so no string.* here. `obj` is the live object.
--
-- Conditions read (set by Crossplane and by function-redis-ha):
--   Synced  True ReconcileSuccess | False ReconcileError (message says why) | False ReconcilePaused
--   Ready   True Available | False Creating ("Unready resources: ...") | claim: False Waiting
--   RedisAvailable, SentinelQuorum, TunnelAvailable: per-component, reason Available,
--           Creating (object not created yet) or Unavailable (created, not enough pods ready),
--           message in words an application team can act on. Mirrored onto the claim.
--   ClusterTopology (spec.mode: cluster, instead of SentinelQuorum): the cluster Job, reason
--           Applied, Applying (creating the cluster or adding shards), Creating or Failed.
--
-- Decisions:
--   * no status or no conditions yet           -> Progressing (Crossplane has not composed it)
--   * Synced False, ReconcilePaused            -> Suspended (crossplane.io/paused annotation)
--   * Synced False, anything else              -> Degraded with Synced's message: the function
--                                                 rejected the spec or composing failed
--   * Ready True                               -> Healthy, message names the endpoint
--   * Ready False, reason Unavailable          -> Degraded with its message
--   * Ready False otherwise (Creating, Waiting) -> Progressing with the message of the first
--     component that is not available (the cluster Job's first: while it creates the cluster
--     no Redis pod is ready), else Ready's own message. A component reporting
--     Unavailable is NOT Degraded on its own: the function reports Unavailable while pods
--     start, too, and Argo CD has no clock here to tell "starting" from "stuck".

local function find(conditions, type)
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function say(message, fallback)
  if message ~= nil and message ~= "" then
    return message
  end
  return fallback
end

local hs = { status = "Progressing", message = "Waiting for Crossplane to compose the " .. obj.kind }

if obj.status == nil or obj.status.conditions == nil or #obj.status.conditions == 0 then
  return hs
end
local conditions = obj.status.conditions

local synced = find(conditions, "Synced")
if synced ~= nil and synced.status == "False" then
  if synced.reason == "ReconcilePaused" then
    hs.status = "Suspended"
    hs.message = say(synced.message, "Reconciliation is paused")
    return hs
  end
  hs.status = "Degraded"
  hs.message = say(synced.message, "Crossplane cannot reconcile the " .. obj.kind .. " (" .. (synced.reason or "no reason") .. ")")
  return hs
end

local ready = find(conditions, "Ready")
if ready == nil then
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = "Available"
  if obj.status.endpoint ~= nil and obj.status.endpoint ~= "" then
    hs.message = "Available at " .. obj.status.endpoint
  end
  return hs
end

if ready.reason == "Unavailable" then
  hs.status = "Degraded"
  hs.message = say(ready.message, "The " .. obj.kind .. " is unavailable")
  return hs
end

for _, type in ipairs({ "ClusterTopology", "RedisAvailable", "SentinelQuorum", "TunnelAvailable" }) do
  local c = find(conditions, type)
  if c ~= nil and c.status ~= "True" and c.message ~= nil and c.message ~= "" then
    hs.message = c.message
    return hs
  end
end
hs.message = say(ready.message, "Waiting for the " .. obj.kind .. " to become ready (" .. (ready.reason or "no reason") .. ")")
return hs
