// subgroup_teams.wgsl: teams of TEAM_LANES lanes of one subgroup that share
// a piece of work and sum their parts through registers (version 5).
//
// WebGPU promises neither which invocations of a workgroup form a subgroup
// nor that every subgroup is full, only that its size lies between the
// adapter's subgroupMinSize and subgroupMaxSize. So a team is formed from
// subgroup_invocation_id, never from local_invocation_index: lanes
// first .. first + TEAM_LANES - 1 of one subgroup (first = lane rounded down
// to a multiple of TEAM_LANES), with TEAM_LANES a power of two no larger than
// subgroupMinSize. A team whose lanes are not all present (a partial
// subgroup) takes no work; the others share it. Teams are numbered by an
// atomic counter, so the numbering is right whatever the layout.
// (Assuming a layout is the bug class of ONNX Runtime #28520 and llama.cpp
// #23040.)
//
// This file opens with the module's directives, so it is composed first.
enable subgroups;
// The team loop is uniform within a team, not within the whole subgroup;
// shuffles only read lanes of the same team, which are all active.
diagnostic(off, subgroup_uniformity);

override TEAM_LANES: u32;          // a power of two, 1 .. min(subgroupMinSize, 32)
const NO_TEAM: u32 = 0xffffffffu;

var<workgroup> teamCount: atomic<u32>;  // zero at the start, as all workgroup memory

// This lane's team number, or NO_TEAM. Call from every invocation of the
// workgroup, then workgroupBarrier() before reading teamsFormed().
fn joinTeam(lane: u32) -> u32 {
  let first = lane & ~(TEAM_LANES - 1u);
  let present = subgroupBallot(true)[first / 32u];
  let mask = (0xffffffffu >> (32u - TEAM_LANES)) << (first % 32u);
  var team = NO_TEAM;
  if (lane == first && (present & mask) == mask) {
    team = atomicAdd(&teamCount, 1u);
  }
  return subgroupShuffle(team, first);
}

fn teamsFormed() -> u32 {
  return atomicLoad(&teamCount);
}

// Butterfly sum over the team: afterwards every lane holds the sum of the
// team's values (log2(TEAM_LANES) shuffles per column).
fn teamSum(x: mat4x4<f32>) -> mat4x4<f32> {
  var s = x;
  for (var d = 1u; d < TEAM_LANES; d <<= 1u) {
    s += mat4x4<f32>(subgroupShuffleXor(s[0], d), subgroupShuffleXor(s[1], d), subgroupShuffleXor(s[2], d), subgroupShuffleXor(s[3], d));
  }
  return s;
}
