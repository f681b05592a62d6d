"""Default configuration: the paper's dual-stream CAE on the mouse data, hang held out (Table 1).

  python -m mouseflax.main --config=configs/default.py --workdir=workdirs/cae_hang \
      --config.data.manual_dir=/path/to/jhuang_full_database

Every key the code reads is declared here, with one comment each; experiment configs import this
module (`from configs import default as default_lib`) and override a few fields. Never derive one
field from another here: an override of the first would leave the second stale. Derive in code.

Data, for every experiment: `data.manual_dir` names the real recordings in their published layout
(the Jhuang et al. home-cage 'full database': 12 .mpg videos + Annotator_group_1/ text files; CUHK
Avenue: 'Avenue Dataset/' with training_videos/, testing_videos/, ground_truth_demo/). Left empty,
the input pipeline generates SYNTHETIC recordings in the same layout once and reuses them: fine for
a smoke run, but their AUC says nothing about the paper.
Expected runtime and AUC: configs/cae_hang.py (this experiment).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  """Returns the default configuration."""
  config = ml_collections.ConfigDict()
  config.seed = 0  # Seeds parameter init, shuffling, augmentation and the synthetic recordings.

  # Data: owned by mouseflax/input_pipeline.py and the builders in data_builders/.
  config.data = ml_collections.ConfigDict()
  # TFDS name/config: mouse_behavior/<held-out behaviour>, cuhk_avenue or own_videos.
  config.data.dataset = "mouse_behavior/hang"
  # Where records live; "" -> $MOUSEFLAX_DATA_DIR or ~/.cache/mouseflax/data.
  config.data.data_dir = ""
  config.data.manual_dir = ""  # Raw recordings (real layout); "" -> synthetic recordings.
  config.data.synthetic_videos = 8  # Synthetic default: recordings written (avenue: per split).
  config.data.synthetic_frames = 4500  # Synthetic home cage: frames per recording (30 fps).
  # Synthetic home cage: frames of the designated test recording (the longest; its test half holds
  # >= 5 bouts of every behaviour, mouseflax/synthetic/behaviour.py).
  config.data.synthetic_test_frames = 9000
  config.data.synthetic_avenue_frames = 240  # Synthetic avenue: frames per recording (25 fps).
  config.data.hflip = True  # Training: random horizontal flips of whole sequences (flow x negated).
  config.data.device_resident = True  # Hold the training split on the device when it fits.
  config.data.build_workers = 2  # Processes used to preprocess videos when building records.
  config.data.device_max_mb = 1024  # Largest split (MB as stored) device_resident puts there.
  # Training windows take every `stride`-th frame (paper: 5, no overlap; Avenue configs: 1).
  config.data.stride = 5
  # Share of each training video, at its end by time, held out for validation (loss, stream
  # statistics, threshold): every frame of it, in the test split's consecutive windows, one window
  # span away from the last training window.
  config.data.validation_fraction = 0.2
  config.data.num_train_videos = 6  # mouse: videos for train + validation (paper: 6 of 12).
  # mouse: training video stems; () -> the first num_train_videos others by name. On the command
  # line a tuple, --config.data.train_videos="('Clip1','Clip2')", or a comma-separated list.
  config.data.train_videos = ()
  # mouse: test video stem; "" -> the longest recording (ties: first by name), whatever is held out.
  config.data.test_video = ""
  config.data.test_fraction = 0.5  # mouse: leading share of the test video used, every frame.
  # avenue, own_videos: frames between training window starts; 0 = no overlap (the Avenue configs
  # and own_videos.py: 4).
  config.data.train_hop = 0
  # Flow displacement -> [0, 1] (mouseflax/preprocess.py): "clip" (linear, saturates at
  # +-flow_scale_px) | "softsign" (never saturates; +-flow_scale_px -> 0.25 / 0.75).
  config.data.flow_encoding = "clip"
  config.data.flow_scale_px = 1.0  # The encoding's scale, pixels of the 32x32 frame.
  # own_videos (configs/own_videos.py): the folder of your recordings, required there.
  config.data.video_dir = ""
  # own_videos: leading share of each video used for training + validation (< 1 keeps the end of
  # every video unseen, to score it afterwards).
  config.data.video_fraction = 1.0
  # Frames an annotation (or Avenue label file) may run past its video's last decodable frame
  # before the build stops with an error naming both files (0: none; a truncated video is an error).
  config.data.raw_tolerance_frames = 0
  # Records whose raw inputs changed since they were built (a file edited, added or removed):
  # False stops with StaleRecordsError naming the files; True rebuilds them.
  config.data.rebuild_stale = False

  # Model: owned by mouseflax/models/.
  config.model = ml_collections.ConfigDict()
  config.model.name = "cae"  # cae | rae | cae_single | supervised
  # Compute dtype (parameters, optimiser state and losses stay float32): auto | float32 | bfloat16.
  # auto: bfloat16 on GPUs and TPUs, float32 on CPUs (mouseflax/models/common.py: why); a resumed
  # run keeps the dtype it was trained in. results.json records the pick and why.
  config.model.dtype = "auto"
  config.model.conv_impl = "auto"  # auto (fast formulation on CPU) | native | fast
  config.model.width = 32  # Channels of the first stage; doubled at every stride-2 layer/stage.
  config.model.kernels = (5, 5, 3, 3, 3)  # CAE encoder kernel size per layer (non-homogeneous).
  config.model.strides = (1, 2, 2, 1, 1)  # CAE encoder stride per layer (1 or 2).
  config.model.dilations = (1, 1, 1, 2, 2)  # CAE encoder dilation per layer (Table 1: 2, 2 last).
  # CAE: units of a dense code after the fused bottleneck; 0 = none (the paper's, all conv).
  config.model.code_size = 0
  # CAE: how the streams meet at the bottleneck: "shared" (the paper's: one conv over both codes,
  # then the dense code) | "cross" (each decoder reads every code, trains only its own; models
  # README: the shared one let the flow stream learn nothing on the synthetic cage; own_videos.py
  # uses "cross", chosen on the real-video check).
  config.model.fusion = "shared"
  # CAE/RAE: inputs shifted to [-0.5, 0.5] (no motion = 0; models README). Off here (the paper's
  # inputs; the real-video check scored 0.773 with it, 0.805 without); on in configs/demo.py.
  config.model.centre_inputs = False
  config.model.time_strides = (1, 2)  # RAE: temporal stride of each downsampling stage.
  config.model.res_blocks = 1  # RAE: residual blocks after each stage (encoders, fusion, decoders).
  config.model.num_classes = 2  # Supervised: 2 (held-out behaviour vs rest) or 8 (all behaviours).
  config.model.classifier_hidden = 64  # Supervised: units of the hidden fully connected layer.

  # Optimiser (Table 1: Adam, lr 2e-4, beta1 0.5).
  config.optim = ml_collections.ConfigDict()
  config.optim.name = "adam"  # adam | sgd
  config.optim.learning_rate = 2e-4
  config.optim.b1 = 0.5  # The paper's "momentum" for Adam.
  config.optim.b2 = 0.999
  config.optim.momentum = 0.0  # SGD only (the supervised baseline): heavy-ball, 0 = plain SGD.

  # Training (Table 1: CAE 60 epochs, batch 32, loss weights gray 1.0 / flow 1.0).
  config.train = ml_collections.ConfigDict()
  config.train.epochs = 60
  config.train.batch_size = 32
  config.train.loss_weights = ml_collections.ConfigDict({"gray": 1.0, "flow": 1.0})
  # Divide each stream's loss by its mean frame's loss on the validation split before weighting
  # (mouseflax/learning_check.py): off = the paper's raw sum.
  config.train.balance_losses = False
  config.train.train_split = "train"  # Split trained on (supervised: train_labelled).
  config.train.val_split = "validation"  # Validation loss each epoch + threshold calibration.
  # Steps per compiled call: 0 = auto (1 on the CPU, where lax.scan loses the fast conv path; many
  # on accelerators), or a positive number (> 1 runs a lax.scan).
  config.train.steps_per_call = 0
  config.train.log_every_steps = 50  # Progress (sequences/s, ETA) and train scalars every N steps.
  config.train.stop_after_steps = 0  # Debug: checkpoint and stop after N more steps (0 = off).

  # Evaluation: owned by mouseflax/evaluate.py (headline = pooled frame-level ROC AUC, section 2.5).
  config.eval = ml_collections.ConfigDict()
  config.eval.batch_size = 64  # Sequences per predict call on the test split.
  config.eval.smoothing_sigma = 5.0  # Gaussian sigma (frames) of the `auc_smoothed` variant only.
  config.eval.timeline_max_videos = 6  # Panels in timeline.png (the first videos, sorted by name).
  config.eval.test_split = "test"  # Split scored for the AUCs.
  config.eval.use_best_checkpoint = False  # Evaluate the lowest-val-loss checkpoint, not the last.
  # The score (mouseflax/named_scores.py): "paper" = the streams' l2 norms of the error averaged
  # (section 2.5); "mse" = their per-pixel MSEs averaged; "mse_z" / "patch_z" = the mean of
  # per-stream z-scores (normal validation frames) of the MSE / of the largest 8x8-patch MSE.
  config.eval.score = "paper"
  # The streams it combines: "all" (the paper's) | "learnt" (those whose validation loss fell 10%
  # below a constant mean frame's: mouseflax/learning_check.py; all if none did).
  config.eval.score_streams = "all"
  # The threshold (mouseflax/calibration.py), fitted on the normal validation frames:
  # "events_per_hour" = at most eval.false_events_per_hour false events per hour of video;
  # "frame_rate" = at most eval.false_alarm_rate of the frames flagged.
  config.eval.calibrate_to = "events_per_hour"
  # 2 per hour: a 12-hour night of one cage gives about 24 false flags to review, a few minutes of
  # clips; promising it within 0.5x-2x needs >= 5 h of normal validation video (10 events).
  config.eval.false_events_per_hour = 2.0
  config.eval.false_alarm_rate = 0.01  # Share of normal validation frames above the threshold.
  # Events (mouseflax/events.py): flagged frames less than 1 s apart are one event (a score
  # flickering around the threshold is one thing to review, not many); events shorter than 0.5 s
  # are dropped (blips of a window or two). Chosen on benchmarks/real_video_check.py (README):
  # plain runs gave 1576 false events/h there, 1 s merging 286/h, plus the 0.5 s minimum 0/h, with
  # every injected anomaly (1.5-3 s) still caught. Lower the minimum if shorter events matter.
  config.eval.event_merge_gap_s = 1.0
  config.eval.event_min_duration_s = 0.5

  # Checkpoints (orbax, in <workdir>/checkpoints; a rerun resumes from the latest).
  config.ckpt = ml_collections.ConfigDict()
  config.ckpt.keep_last = 2  # Latest checkpoints kept (one per epoch).
  config.ckpt.keep_best = 1  # Lowest-validation-loss checkpoints kept as well.

  # Device mesh: one `data` axis; batches sharded along it, parameters replicated.
  config.mesh = ml_collections.ConfigDict()
  config.mesh.data_parallelism = -1  # Devices on the data axis; -1 = all visible devices.
  return config
