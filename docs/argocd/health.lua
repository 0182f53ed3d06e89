-- Argo CD health check for hookwarden's GitHubIntegration
-- (integrations.hookwarden.io/GitHubIntegration). Install it as
-- resource.customizations.health.integrations.hookwarden.io_GitHubIntegration
-- in argocd-cm; see docs/argocd.md.
--
-- It reads the kstatus conditions hookwarden writes: Ready (the summary),
-- Reconciling and Stalled. Argo CD runs it with the base and table libraries
-- only, so it uses no string functions.
local hs = {}

local function condition(type)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c)
  local text = c.type .. "=" .. c.status
  if c.reason ~= nil and c.reason ~= "" then
    text = text .. " (" .. c.reason .. ")"
  end
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "spec.suspend is true: no GitHub calls are made; the receiver still records deliveries"
  return hs
end

if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted: hookwarden is removing the webhooks (spec.deletionPolicy)"
  return hs
end

local generation = obj.metadata.generation
local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
end
if generation ~= nil and (observed == nil or observed ~= generation) then
  hs.status = "Progressing"
  if observed == nil then
    hs.message = "Waiting for hookwarden to reconcile generation " .. generation
  else
    hs.message = "Waiting for hookwarden to reconcile generation " .. generation .. " (observed " .. observed .. ")"
  end
  return hs
end

-- Stalled (only the user can unblock it) before Reconciling (hookwarden is
-- working on it), as kstatus reads them.
for _, rule in ipairs({{"Stalled", "Degraded"}, {"Reconciling", "Progressing"}}) do
  local c = condition(rule[1])
  if c ~= nil and c.status == "True" then
    hs.status = rule[2]
    hs.message = describe(c)
    return hs
  end
end

local ready = condition("Ready")
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for hookwarden to report Ready"
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end
if ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end
hs.status = "Progressing"
hs.message = describe(ready)
return hs
