-- Argo CD health check for argoproj.io/Application, for the app-of-apps in ../root.yaml:
-- Argo CD stopped assessing Application health in 1.8, so without this the root application
-- would not wait for the platform Application (sync wave -1) to be Healthy before creating
-- the claims ApplicationSet (wave 1). examples/gitops generates the argocd-cm key from it.
--
-- An Application is Healthy only when its resources are healthy AND it has synced the
-- revision it wants: an Application created a moment ago reports the health of whatever is
-- already in the cluster (often Healthy with nothing in it), which must not open the next wave.

local hs = { status = "Progressing", message = "Waiting for the Application to report health" }
if obj.status == nil or obj.status.health == nil or obj.status.health.status == nil then
  return hs
end

hs.status = obj.status.health.status
hs.message = obj.status.health.message or ""

if hs.status == "Healthy" then
  if obj.status.sync == nil or obj.status.sync.status ~= "Synced" then
    hs.status = "Progressing"
    hs.message = "Healthy but not synced yet"
  elseif obj.status.operationState ~= nil and obj.status.operationState.phase == "Running" then
    hs.status = "Progressing"
    hs.message = "Sync operation running"
  end
end
return hs
