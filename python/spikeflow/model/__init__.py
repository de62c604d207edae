"""What to simulate: neuron parameter sets, connection rules, value distributions."""
from spikeflow.model.connectors import (
    AllToAll,
    Connector,
    Conv2d,
    FixedInDegree,
    FixedOutDegree,
    FixedProbability,
    FromArrays,
    OneToOne,
    Pool2d,
)
from spikeflow.model.neurons import IF, LIF, NeuronModel
from spikeflow.model.plasticity import STDP, Normalize, RewardSTDP, Rewiring, TripletSTDP
from spikeflow.model.values import Normal, Uniform

__all__ = [
    "LIF", "IF", "NeuronModel",
    "Connector", "AllToAll", "OneToOne", "FixedProbability", "FixedInDegree", "FixedOutDegree", "FromArrays",
    "Conv2d", "Pool2d",
    "Uniform", "Normal", "STDP", "TripletSTDP", "RewardSTDP", "Normalize", "Rewiring",
]
