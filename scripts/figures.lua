-- scripts/figures.lua - docs/figures/ from the JSON the experiment scripts wrote
--   llfc scripts/figures.lua [OUT [FIGURES]]     (default out/ and docs/figures/)
-- Each figure is drawn again from its result (view.load), so the figures follow
-- the current drawing code without training anything.  Run the experiments of
-- docs/RESULTS.md first, the larger runs with --out OUT/spawn_llfc_large and
-- OUT/permutation_large.
local out, figs = arg[1] or "out", arg[2] or "docs/figures"
local PERM = { "unmatched", "weight matching", "activation matching" }
local F = {
  -- name in FIGURES, result file in OUT, options
  { "spawn_llfc_spawned_llfc", "spawn_llfc/spawned_llfc" },
  { "spawn_llfc_independent_llfc", "spawn_llfc/independent_llfc" },
  { "spawn_llfc_spawned_interpolate", "spawn_llfc/spawned_interpolate" },
  { "spawn_llfc_independent_interpolate", "spawn_llfc/independent_interpolate" },
  { "spawn_llfc_interpolate_overlay", "spawn_llfc/interpolate_overlay", { labels = { "spawned", "independent" } } },
  { "spawn_llfc_large_spawned_llfc", "spawn_llfc_large/spawned_llfc" },
  { "spawn_llfc_large_independent_llfc", "spawn_llfc_large/independent_llfc" },
  { "permutation_interpolate_none", "permutation/interpolate_none" },
  { "permutation_interpolate_weight", "permutation/interpolate_weight" },
  { "permutation_interpolate_activation", "permutation/interpolate_activation" },
  { "permutation_interpolate_overlay", "permutation/interpolate_overlay", { labels = PERM }, { png = { 6, 3.6 } } },
  { "permutation_llfc_overlay", "permutation/llfc_overlay", { labels = PERM } },
  { "permutation_commutativity_none", "permutation/commutativity_none" },
  { "permutation_commutativity_weight", "permutation/commutativity_weight" },
  { "permutation_commutativity_activation", "permutation/commutativity_activation" },
  { "permutation_commutativity_overlay", "permutation/commutativity_overlay", { labels = PERM } },
  { "permutation_factors", "permutation/factors" },
  { "permutation_large_factors", "permutation_large/factors" },
  { "instability_barrier_vs_k", "instability/barrier_vs_k" },
  { "instability_llfc_vs_k", "instability/llfc_vs_k" },
  { "lemma", "lemma/lemma_curves", { labels = { "independent", "weight matched", "activation matched", "spawned" },
                                     panel = 1, title = "test error along theta_alpha = alpha*A + (1-alpha)*B" } },
}
local n = 0
for _, f in ipairs(F) do
  local r, err = view.load(out .. "/" .. f[2] .. ".json")
  if not r then
    io.stderr:write("figures: skipped " .. f[1] .. ": " .. tostring(err) .. "\n")
  else
    for _, ext in ipairs { ".svg", ".pdf" } do assert(view.save(r, figs .. "/" .. f[1] .. ext, f[3])) end
    if f[4] and f[4].png then
      local o = {}
      for k, v in pairs(f[3] or {}) do o[k] = v end
      o.size, o.dpi, o.panel = f[4].png, 150, 1
      assert(view.save(r, figs .. "/" .. f[1] .. ".png", o))
    end
    n = n + 1
  end
end
print(string.format("figures: %d of %d drawn into %s/", n, #F, figs))
