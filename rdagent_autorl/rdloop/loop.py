"""The loop: RD-Agent's `RDLoop` with this scenario's steps. One bad experiment never ends a run:
coder and runner errors skip to feedback, which learns from them."""

from __future__ import annotations

import asyncio
from typing import Any

from rdagent.components.workflow.rd_loop import RDLoop
from rdagent.core.conf import RD_AGENT_SETTINGS
from rdagent.core.exception import CoderError, RunnerError
from rdagent.log import rdagent_logger as logger

from rdagent_autorl.rdloop.conf import AUTORL_PROP_SETTING
from rdagent_autorl.rdloop.scenario import AutoRLScenario


class AutoRLLoop(RDLoop):
    skip_loop_error = (CoderError, RunnerError)
    skip_loop_error_stepname = "feedback"

    @property
    def scen(self) -> AutoRLScenario:
        return self.trace.scen

    async def direct_exp_gen(self, prev_out: dict[str, Any]):
        # RDLoop's version carries Qlib feature plans; this one only asks for a training proposal.
        loop_idx = prev_out[self.LOOP_IDX_KEY]
        # The next proposal waits for the running loops (it must see their scores), as RDLoop's does.
        while self.get_unfinished_loop_cnt(loop_idx) >= RD_AGENT_SETTINGS.get_max_parallel():
            await asyncio.sleep(1)
        if self.scen.time_left_s() < AUTORL_PROP_SETTING.min_loop_s:
            raise self.LoopTerminationError(f"{self.scen.time_left_s():.0f} s left: not enough for another loop")
        exp = self.hypothesis_gen.gen(self.trace, loop_idx=loop_idx)
        logger.log_object(exp.hypothesis, tag="hypothesis generation")
        logger.log_object(exp.sub_tasks, tag="experiment generation")
        return {"propose": exp.hypothesis, "exp_gen": exp}

    def feedback(self, prev_out: dict[str, Any]):
        exception = prev_out.get(self.EXCEPTION_KEY)
        exp = prev_out.get("running") or prev_out.get("coding") or prev_out["direct_exp_gen"]["exp_gen"]
        feedback = self.summarizer.generate_feedback(exp, self.trace, exception=exception)
        logger.log_object(feedback, tag="feedback")
        return feedback
